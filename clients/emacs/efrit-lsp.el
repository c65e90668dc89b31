;;; efrit-lsp.el --- Eglot client for efrit-lsp  -*- lexical-binding: t -*-

;; Copyright (C) 2025 The efrit-lsp authors

;; Author: The efrit-lsp authors
;; Maintainer: The efrit-lsp authors
;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, convenience, languages
;; URL: https://github.com/efrit-lsp/efrit-lsp
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; efrit-lsp is an AI coding assistant that runs as a Language Server
;; (`npx efrit-lsp --stdio').  Plain Eglot already gets its code actions
;; ("Efrit: Explain", "Efrit: Add documentation", "Efrit: Fix: …") through
;; `eglot-code-actions'; this package adds what plain LSP cannot carry:
;;
;;   `efrit-lsp-chat'        a conversation in the *efrit-chat* buffer about
;;                           the current file and region; replies stream
;;                           in, later messages continue the conversation.
;;   `efrit-lsp-do'          an instruction for the agent; its edit is
;;                           applied to the buffer.
;;   `efrit-lsp-explain'     explain the region (or the defun at point); the
;;                           text streams into *efrit-output*.
;;   `efrit-lsp-rewrite'     rewrite the region as instructed.
;;   `efrit-lsp-status'      queue, sessions, cache and token usage.
;;   `efrit-lsp-cancel'      stop what was started here (C-u: every job).
;;   `efrit-lsp-check-sync'  compare the server's copy of the buffer with it.
;;   `efrit-lsp-ghost-mode'  ghost text: suggestions after point as you
;;                           type; TAB accepts while one shows.
;;   `efrit-lsp-ghost-complete'  a suggestion at point now, also without
;;                           the mode.
;;
;; Every request is asynchronous: Emacs stays responsive while the model
;; works, and text arrives through `efrit/stream' notifications.  Code
;; actions picked from Eglot's menu run asynchronously too (see
;; `efrit-lsp-async-code-actions'), so a slow model never runs into
;; jsonrpc's ten-second timeout.
;;
;; Setup:
;;
;;   (require 'efrit-lsp)
;;   (setq efrit-lsp-major-modes '(python-mode js-mode typescript-mode))
;;   (efrit-lsp-setup)            ; adds the server to `eglot-server-programs'
;;   (global-set-key (kbd "C-c e") efrit-lsp-command-map)
;;
;; then M-x eglot in a source buffer.  The server needs ANTHROPIC_API_KEY
;; in its environment (or `:apiKey' in `efrit-lsp-initialization-options').
;; Settings reach the server as initializationOptions, from
;; `efrit-lsp-initialization-options'; per project they can also be given
;; as the `:efrit' section of `eglot-workspace-configuration'.
;;
;; Eglot (before Emacs 30) manages a buffer with one server only, so a
;; major mode registered for efrit-lsp uses it instead of that language's
;; usual server, unless it is listed in `efrit-lsp-wrapped-servers': then
;; efrit-lsp runs in proxy mode in front of that server (`--wrap --
;; COMMAND'), and the buffer gets both, the language server's features
;; and Efrit's:
;;
;;   (setq efrit-lsp-wrapped-servers '((python-mode . ("pylsp"))))
;;   (efrit-lsp-setup)

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)
(require 'seq)
(require 'subr-x)

;;;; Customization

(defgroup efrit-lsp nil
  "Claude in Emacs through the efrit-lsp language server and Eglot."
  :group 'tools
  :prefix "efrit-lsp-"
  :link '(emacs-commentary-link "efrit-lsp"))

(defcustom efrit-lsp-server-command '("npx" "efrit-lsp" "--stdio")
  "Command line that starts the efrit-lsp server, as a list of strings.
For a checkout, something like
  (\"node\" \"/path/to/efrit-lsp/dist/efrit-lsp.cjs\" \"--stdio\").
Takes effect on the next `efrit-lsp-setup'."
  :type '(repeat string))

(defcustom efrit-lsp-major-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode
    typescript-ts-mode tsx-ts-mode go-mode go-ts-mode rust-mode rust-ts-mode
    c-mode c++-mode java-mode ruby-mode sh-mode)
  "Major modes whose buffers `efrit-lsp-setup' has Eglot manage with efrit-lsp."
  :type '(repeat symbol))

(defcustom efrit-lsp-wrapped-servers nil
  "Language servers that efrit-lsp runs behind, by major mode (proxy mode).
An alist of (MODE . COMMAND): MODE is a major mode or a list of them,
COMMAND the list of strings that starts your usual language server for
it, for example
  ((python-mode . (\"pylsp\"))
   ((c-mode c++-mode) . (\"clangd\")))
For these modes `efrit-lsp-setup' has Eglot start
  `efrit-lsp-server-command' --wrap -- COMMAND
so the buffer keeps that server's completion, hover, diagnostics, code
actions and the rest, and gains Efrit's code actions, chat and do.
They need not be in `efrit-lsp-major-modes'.  Takes effect on the next
`efrit-lsp-setup'."
  :type '(alist :key-type (choice (symbol :tag "Major mode")
                                  (repeat :tag "Major modes" symbol))
                :value-type (repeat :tag "Command" string)))

(defcustom efrit-lsp-initialization-options nil
  "Settings sent to the server as `initializationOptions', as a plist.
The keys are the server's settings (see its README), for example
  (:model \"claude-sonnet-5-5\" :maxTokens 8192 :queue (:concurrency 2))
Write JSON arrays as vectors and false as `:json-false'.  Read each
time a server starts, so a change applies after \\[eglot-reconnect]."
  :type '(plist :key-type symbol :value-type sexp))

(defcustom efrit-lsp-auto-start nil
  "When non-nil, `efrit-lsp-setup' starts Eglot in efrit-lsp's modes.
Those are `efrit-lsp-major-modes' and the modes of
`efrit-lsp-wrapped-servers'.
It adds `eglot-ensure' to each mode's hook."
  :type 'boolean)

(defcustom efrit-lsp-request-timeout 300
  "Seconds to wait for a chat, do or action request before giving up on it.
The server bounds every job itself (its `queue.timeoutMs', two minutes
by default), so this is only a safety net; nil waits forever."
  :type '(choice (integer :tag "Seconds") (const :tag "No limit" nil)))

(defcustom efrit-lsp-async-code-actions t
  "When non-nil, Efrit code actions picked from Eglot's menu run asynchronously.
Eglot 1.9 runs a picked command synchronously, so Emacs would wait for
the model, and jsonrpc gives up after ten seconds (the server still
applies the edit when it is ready).  Asynchronously, Emacs stays
responsive, streamed text goes to the output buffer, and the edit
arrives through workspace/applyEdit."
  :type 'boolean)

(defcustom efrit-lsp-chat-buffer-name "*efrit-chat*"
  "Name of the chat buffer."
  :type 'string)

(defcustom efrit-lsp-output-buffer-name "*efrit-output*"
  "Name of the buffer that collects the text of explanations and actions."
  :type 'string)

(defface efrit-lsp-chat-user '((t :inherit font-lock-keyword-face :weight bold))
  "Face of the \"You:\" label in the chat buffer.")

(defface efrit-lsp-chat-assistant
  '((t :inherit font-lock-function-name-face :weight bold))
  "Face of the \"Efrit:\" label in the chat buffer.")

(defface efrit-lsp-context '((t :inherit shadow))
  "Face of context notes and headings in efrit buffers.")

(defface efrit-lsp-error '((t :inherit error))
  "Face of errors and cancellations in efrit buffers.")

;;;; Registering the server with Eglot

(defun efrit-lsp--initialization-options (_server)
  "Return `efrit-lsp-initialization-options' for Eglot's initialize request."
  (or efrit-lsp-initialization-options (make-hash-table)))

(defun efrit-lsp--contact (&optional wrapped)
  "The Eglot contact for efrit-lsp: command and initialization options.
With WRAPPED, a language server's command (a list of strings), the
contact runs efrit-lsp in proxy mode in front of that server."
  (unless (and (consp efrit-lsp-server-command)
               (cl-every #'stringp efrit-lsp-server-command))
    (user-error "efrit: `efrit-lsp-server-command' must be a list of \
strings, not %S" efrit-lsp-server-command))
  (when wrapped
    (unless (and (consp wrapped) (cl-every #'stringp wrapped))
      (user-error "efrit: a command in `efrit-lsp-wrapped-servers' must be \
a list of strings, not %S" wrapped)))
  (append efrit-lsp-server-command
          (and wrapped (append '("--wrap" "--") wrapped))
          (list :initializationOptions #'efrit-lsp--initialization-options)))

(defun efrit-lsp--wrapped-modes ()
  "The major modes of `efrit-lsp-wrapped-servers', as a flat list."
  (cl-loop for (modes . _) in efrit-lsp-wrapped-servers
           append (mapcar (lambda (mode) (if (consp mode) (car mode) mode))
                          (if (listp modes) modes (list modes)))))

(defun efrit-lsp--wrapped-entries ()
  "`eglot-server-programs' entries for `efrit-lsp-wrapped-servers'."
  (cl-loop for (modes . command) in efrit-lsp-wrapped-servers
           collect (cons modes (efrit-lsp--contact command))))

(defun efrit-lsp--entry-p (entry)
  "Non-nil if `efrit-lsp-register' added ENTRY to `eglot-server-programs'."
  (and (consp entry) (listp (cdr entry))
       (memq #'efrit-lsp--initialization-options (cdr entry))))

;;;###autoload
(defun efrit-lsp-register (&optional modes)
  "Make Eglot use efrit-lsp for MODES (default `efrit-lsp-major-modes').
Puts one entry at the front of `eglot-server-programs', replacing any
entry an earlier call added, and returns it.  Ahead of it go the
entries for `efrit-lsp-wrapped-servers' (proxy mode), which win for
their modes; MODES leaves those out."
  (interactive)
  (let* ((wrapped (efrit-lsp--wrapped-modes))
         (entry (cons (cl-remove-if (lambda (mode) (memq mode wrapped))
                                    (or modes efrit-lsp-major-modes))
                      (efrit-lsp--contact)))
         (proxies (efrit-lsp--wrapped-entries)))
    (setq eglot-server-programs
          (append proxies
                  (and (car entry) (list entry))
                  (cl-remove-if #'efrit-lsp--entry-p eglot-server-programs)))
    (when (called-interactively-p 'interactive)
      (message "efrit: Eglot will start %s in %d major modes%s; \
M-x eglot to connect" (car efrit-lsp-server-command) (length (car entry))
               (if wrapped
                   (format " and in front of your server in %d more"
                           (length wrapped))
                 "")))
    entry))

;;;###autoload
(defun efrit-lsp-setup ()
  "Register efrit-lsp with Eglot for `efrit-lsp-major-modes'.
For the modes of `efrit-lsp-wrapped-servers', efrit-lsp is registered
in proxy mode, in front of the language server given there.  With
`efrit-lsp-auto-start', also start Eglot in all those modes."
  (interactive)
  (efrit-lsp-register)
  (when efrit-lsp-auto-start
    (dolist (mode (cl-remove-duplicates
                   (append efrit-lsp-major-modes (efrit-lsp--wrapped-modes))))
      (add-hook (intern (format "%s-hook" mode)) #'eglot-ensure)))
  (when (called-interactively-p 'interactive)
    (message "efrit: registered with Eglot; \
M-x eglot in a source buffer to connect")))

;;;; Servers, positions, errors

(defvar-local efrit-lsp--chat-server nil
  "In the chat buffer: the Eglot server the conversation runs on.")
(defvar-local efrit-lsp--chat-session nil
  "In the chat buffer: the server's session id, once a reply named it.")
(defvar-local efrit-lsp--chat-source nil
  "In the chat buffer: the source buffer of the latest message.")

(defun efrit-lsp--efrit-server-p (server)
  "Non-nil if SERVER is a running efrit-lsp server."
  (and server
       (jsonrpc-running-p server)
       (seq-contains-p (plist-get (plist-get (eglot--capabilities server)
                                             :executeCommandProvider)
                                  :commands)
                       "efrit.runAction")))

(defun efrit-lsp--server ()
  "The efrit-lsp server of the current buffer.
Signal a `user-error' that says what to do when there is none."
  (let ((server (if (derived-mode-p 'efrit-lsp-chat-mode)
                    efrit-lsp--chat-server
                  (eglot-current-server))))
    (cond ((efrit-lsp--efrit-server-p server) server)
          ((and server (jsonrpc-running-p server))
           (user-error "efrit: this buffer's Eglot server is %s, not efrit-lsp; \
see `efrit-lsp-setup'"
                       (jsonrpc-name server)))
          (t (user-error "efrit: not connected — M-x eglot first \
(after M-x efrit-lsp-setup)")))))

(defun efrit-lsp--flush ()
  "Send Eglot's pending didChange now.
Eglot flushes it only before its own deferred requests; the server
must see the current text before any request about it."
  (when (and (bound-and-true-p eglot--managed-mode)
             (fboundp 'eglot--signal-textDocument/didChange))
    (eglot--signal-textDocument/didChange)))

(defun efrit-lsp--range (beg end)
  "The LSP range from BEG to END in the current buffer."
  (list :start (eglot--pos-to-lsp-position (min beg end))
        :end (eglot--pos-to-lsp-position (max beg end))))

(defun efrit-lsp--region-or (thing)
  "Bounds of the active region, else of THING at point, else of the line."
  (cond ((use-region-p) (list (region-beginning) (region-end)))
        ((let ((bounds (and thing (bounds-of-thing-at-point thing))))
           (and bounds (list (car bounds) (cdr bounds)))))
        (t (list (line-beginning-position) (line-end-position)))))

(defun efrit-lsp--region-or-point ()
  "Bounds of the active region, else point twice."
  (if (use-region-p)
      (list (region-beginning) (region-end))
    (list (point) (point))))

(defun efrit-lsp--lines (first last)
  "Describe the lines FIRST to LAST (1-based) of the current buffer."
  (format "%s, %s" (buffer-name)
          (if (= first last)
              (format "line %d" first)
            (format "lines %d–%d" first last))))

(defun efrit-lsp--range-lines (range)
  "Describe the lines of the current buffer that the LSP RANGE covers."
  (let* ((start (plist-get range :start))
         (end (plist-get range :end))
         (first (plist-get start :line))
         (last (plist-get end :line)))
    ;; A range that ends at the start of a line does not cover that line.
    (when (and (> last first) (eql (plist-get end :character) 0))
      (cl-decf last))
    (efrit-lsp--lines (1+ first) (1+ last))))

(defun efrit-lsp--where (beg end)
  "Describe the current file and the lines from BEG to END."
  (efrit-lsp--lines (line-number-at-pos beg)
                    (line-number-at-pos (max beg (1- end)))))

(defconst efrit-lsp--request-cancelled -32800
  "LSP RequestCancelled: the answer to our own $/cancelRequest only.")

(defconst efrit-lsp--server-cancelled -32802
  "LSP ServerCancelled: the server ended the request's job.
Its `data.reason' says why: \"cancelled\" for efrit/cancel (the user's
own doing), else \"superseded\", \"sessionEnded\", \"shuttingDown\", ….")

(defun efrit-lsp--error-reason (error)
  "The `data.reason' of the JSON-RPC ERROR object, or nil."
  (let ((data (plist-get error :data)))
    (and (listp data) (plist-get data :reason))))

(defun efrit-lsp--error-message (error)
  "A one-line message for the JSON-RPC ERROR object (a plist)."
  (let ((message (plist-get error :message))
        (code (plist-get error :code)))
    (cond ((or (eql code efrit-lsp--request-cancelled)
               (equal (efrit-lsp--error-reason error) "cancelled"))
           "cancelled")
          ((eql code efrit-lsp--server-cancelled)
           (format "the server cancelled it: %s"
                   (or message (efrit-lsp--error-reason error))))
          ((and (stringp message) (not (string-empty-p message))) message)
          (t (format "the server failed (code %s)" code)))))

(defun efrit-lsp--cancel-hint ()
  "How to cancel, with the user's key binding when there is one."
  (substitute-command-keys "\\[efrit-lsp-cancel] stops it"))

;;;; Jobs in flight, and the efrit/stream notifications

(cl-defstruct (efrit-lsp--job (:constructor efrit-lsp--job-create)
                              (:copier nil))
  "One request of ours in flight, and where its streamed text goes.
STREAM-ID names its stream: the server puts it on every efrit/stream
notification of the job, from the first one on."
  server kind title origin request-id job-id session-id stream-id
  start end streamed display)

(defvar efrit-lsp--jobs nil
  "Requests of ours in flight, oldest first.")

(defvar efrit-lsp--finished-streams nil
  "Stream ids of recently answered requests, newest first.
Their late notifications are dropped.")

(defvar efrit-lsp--stream-counter 0
  "The number of streams named so far, for fresh stream ids.")

(defvar efrit-lsp--foreign-job nil
  "Id of the last job not started by this package whose text was shown.")

(defun efrit-lsp--live-jobs ()
  "`efrit-lsp--jobs', without those whose server has gone."
  (setq efrit-lsp--jobs
        (cl-remove-if-not
         (lambda (job) (jsonrpc-running-p (efrit-lsp--job-server job)))
         efrit-lsp--jobs)))

(defun efrit-lsp--finish (job)
  "Forget JOB; notifications for it are dropped from now on."
  (setq efrit-lsp--jobs (delq job efrit-lsp--jobs))
  (dolist (marker (list (efrit-lsp--job-start job) (efrit-lsp--job-end job)))
    (when (markerp marker) (set-marker marker nil)))
  (when-let ((id (efrit-lsp--job-stream-id job)))
    (push id efrit-lsp--finished-streams)
    (when (> (length efrit-lsp--finished-streams) 64)
      (setcdr (nthcdr 63 efrit-lsp--finished-streams) nil))))

(defun efrit-lsp--stream-job (server stream-id)
  "Our request in flight on SERVER whose stream is named STREAM-ID, or nil."
  (and stream-id
       (cl-find-if (lambda (job)
                     (and (eq (efrit-lsp--job-server job) server)
                          (equal (efrit-lsp--job-stream-id job) stream-id)))
                   (efrit-lsp--live-jobs))))

(defun efrit-lsp--insert (marker text &optional face)
  "Insert TEXT at MARKER, in FACE if non-nil.
Windows whose point was at MARKER follow the text."
  (let ((buffer (marker-buffer marker)))
    (when (buffer-live-p buffer)
      (with-current-buffer buffer
        (let ((inhibit-read-only t)
              (following (cl-remove-if-not
                          (lambda (window) (= (window-point window) marker))
                          (get-buffer-window-list buffer nil t))))
          (save-excursion
            (goto-char marker)
            (insert (if face (propertize text 'face face) text)))
          (dolist (window following) (set-window-point window marker)))))))

(defun efrit-lsp--set-text (job text)
  "Replace the text JOB streamed with TEXT, the authoritative answer."
  (let ((start (efrit-lsp--job-start job))
        (end (efrit-lsp--job-end job)))
    (when (and (markerp start) (buffer-live-p (marker-buffer start)))
      (with-current-buffer (marker-buffer start)
        (unless (equal (buffer-substring-no-properties start end) text)
          (let ((inhibit-read-only t))
            (delete-region start end))
          (efrit-lsp--insert end text))))))

(defun efrit-lsp--show-foreign (job-id text)
  "Append TEXT of JOB-ID, a job not started here, to the output buffer."
  (with-current-buffer (efrit-lsp--output-buffer)
    (let ((end (copy-marker (point-max))))
      (unless (equal job-id efrit-lsp--foreign-job)
        (setq efrit-lsp--foreign-job job-id)
        (efrit-lsp--insert
         end (concat (if (bobp) "" "\n")
                     (efrit-lsp--heading (format "Efrit job %s" job-id))
                     "\n")))
      (efrit-lsp--insert end text)
      (set-marker end nil))))

(defun efrit-lsp--on-stream (server job-id session-id stream-id kind text)
  "Route an efrit/stream notification from SERVER.
JOB-ID, SESSION-ID, STREAM-ID, KIND and TEXT are its parameters.  The
note goes to the request of ours that named its stream STREAM-ID;
text of a job no request here named goes to the output buffer."
  (unless (member stream-id efrit-lsp--finished-streams)
    (let ((job (efrit-lsp--stream-job server stream-id)))
      (when job
        (setf (efrit-lsp--job-job-id job) job-id)
        (when session-id (setf (efrit-lsp--job-session-id job) session-id)))
      (cond
       ((not (stringp text)))
       ((null job)
        (when (equal kind "text") (efrit-lsp--show-foreign job-id text)))
       ((equal kind "text")
        (let ((end (efrit-lsp--job-end job)))
          (when (markerp end)
            (unless (efrit-lsp--job-streamed job)
              (setf (efrit-lsp--job-streamed job) t)
              (when (efrit-lsp--job-display job)
                (display-buffer (marker-buffer end))))
            (efrit-lsp--insert end text))))
       ((member kind '("status" "tool"))
        (message "efrit: %s — %s" (efrit-lsp--job-title job) text))))))

(cl-defmethod eglot-handle-notification
  (server (_method (eql efrit/stream))
          &key jobId sessionId streamId kind text &allow-other-keys)
  "Route efrit/stream from SERVER: a job's text deltas and notes.
JOBID, SESSIONID, STREAMID, KIND and TEXT are the notification's
parameters."
  (efrit-lsp--on-stream server jobId sessionId streamId kind text))

(defun efrit-lsp--timeout-error ()
  "The error plist reported when a request timed out."
  (list :message (format "no answer after %s s; the job may still run on \
the server (%s)" efrit-lsp-request-timeout (efrit-lsp--cancel-hint))))

(defun efrit-lsp--with-stream-id (method params stream-id)
  "PARAMS of METHOD with STREAM-ID where the server reads it.
That is the params themselves, or for a command its first argument."
  (if (not (eq method :workspace/executeCommand))
      (append params (list :streamId stream-id))
    (let ((arguments (plist-get params :arguments)))
      (if (and (vectorp arguments) (> (length arguments) 0)
               (listp (aref arguments 0)))
          (let ((named (copy-sequence arguments)))
            (aset named 0 (append (aref arguments 0)
                                  (list :streamId stream-id)))
            (append (list :arguments named)
                    (cl-loop for (key value) on params by #'cddr
                             unless (eq key :arguments)
                             append (list key value))))
        params))))

(cl-defun efrit-lsp--send (job method params &key on-result on-error)
  "Send METHOD with PARAMS for JOB asynchronously; return JOB.
The request names its stream with a fresh id, so the job's
efrit/stream notes reach JOB from the first one on.  ON-RESULT is
called with the result, ON-ERROR with the error plist (a timeout is
reported as one); JOB is finished after either."
  (setf (efrit-lsp--job-stream-id job)
        (format "emacs-%d-%d" (emacs-pid)
                (cl-incf efrit-lsp--stream-counter)))
  (setq params (efrit-lsp--with-stream-id
                method params (efrit-lsp--job-stream-id job)))
  (let* ((finishing (lambda (fn)
                      (lambda (&optional value)
                        (unwind-protect (when fn (funcall fn value))
                          (efrit-lsp--finish job)))))
         (args (list :success-fn
                     (let ((done (funcall finishing on-result)))
                       (lambda (result)
                         (when-let ((id (plist-get result :jobId)))
                           (setf (efrit-lsp--job-job-id job) id))
                         (funcall done result)))
                     :error-fn (funcall finishing on-error)
                     :timeout-fn
                     (let ((failed (funcall finishing on-error)))
                       (lambda () (funcall failed (efrit-lsp--timeout-error))))
                     :timeout efrit-lsp-request-timeout)))
    (setq efrit-lsp--jobs (append (efrit-lsp--live-jobs) (list job)))
    ;; The request id lets `efrit-lsp-cancel' send $/cancelRequest; only
    ;; the internal function returns it (as every jsonrpc.el since Emacs 27).
    (condition-case err
        (if (fboundp 'jsonrpc--async-request-1)
            (setf (efrit-lsp--job-request-id job)
                  (car (apply #'jsonrpc--async-request-1
                              (efrit-lsp--job-server job) method params args)))
          (apply #'jsonrpc-async-request
                 (efrit-lsp--job-server job) method params args))
      (error (efrit-lsp--finish job)
             (signal (car err) (cdr err))))
    job))

;;;; Output buffer (explanations, actions, do)

(define-derived-mode efrit-lsp-output-mode special-mode "Efrit-Output"
  "Major mode of the buffer that collects efrit explanations and notes."
  (visual-line-mode 1))

(defun efrit-lsp--output-buffer ()
  "The output buffer, created on first use."
  (or (get-buffer efrit-lsp-output-buffer-name)
      (with-current-buffer (get-buffer-create efrit-lsp-output-buffer-name)
        (efrit-lsp-output-mode)
        (current-buffer))))

(defun efrit-lsp--heading (text)
  "TEXT as a heading line, without the newline."
  (propertize (concat "── " text " ──") 'face 'efrit-lsp-context))

(defun efrit-lsp--output-section (heading)
  "Start a section headed HEADING in the output buffer.
Return (START . END), markers around its text."
  (with-current-buffer (efrit-lsp--output-buffer)
    (setq efrit-lsp--foreign-job nil)
    (let ((inhibit-read-only t))
      (save-excursion
        (goto-char (point-max))
        (unless (bobp) (insert "\n"))
        (insert (efrit-lsp--heading heading) "\n")
        (let ((at (point)))
          (insert "\n")
          (cons (copy-marker at) (copy-marker at t)))))))

;;;; Chat

(defvar efrit-lsp-chat-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "RET") #'efrit-lsp-chat)
    (define-key map (kbd "c") #'efrit-lsp-chat)
    (define-key map (kbd "k") #'efrit-lsp-cancel)
    (define-key map (kbd "n") #'efrit-lsp-chat-new-session)
    (define-key map (kbd "s") #'efrit-lsp-status)
    map)
  "Keymap of `efrit-lsp-chat-mode'.")

(define-derived-mode efrit-lsp-chat-mode special-mode "Efrit-Chat"
  "Major mode of the efrit chat buffer.
\\<efrit-lsp-chat-mode-map>
\\[efrit-lsp-chat] sends a message about the source buffer,
\\[efrit-lsp-cancel] cancels the reply in progress,
\\[efrit-lsp-chat-new-session] starts a new conversation.

\\{efrit-lsp-chat-mode-map}"
  (visual-line-mode 1)
  (setq-local header-line-format '(:eval (efrit-lsp--chat-header))))

(defun efrit-lsp--chat-header ()
  "Header line of the chat buffer: the source buffer and the session."
  (format " efrit chat — %s — %s"
          (if (buffer-live-p efrit-lsp--chat-source)
              (buffer-name efrit-lsp--chat-source)
            "no file")
          (if efrit-lsp--chat-session
              "continuing the conversation"
            "new conversation")))

(defun efrit-lsp--chat-note (text)
  "Insert TEXT as a note at the end of the current (chat) buffer."
  (let ((inhibit-read-only t))
    (save-excursion
      (goto-char (point-max))
      (unless (bolp) (insert "\n"))
      (insert (efrit-lsp--heading text) "\n\n"))))

(defun efrit-lsp--chat-buffer (server)
  "The chat buffer, set up for SERVER.
A different server than last time starts a new conversation."
  (with-current-buffer (get-buffer-create efrit-lsp-chat-buffer-name)
    (unless (derived-mode-p 'efrit-lsp-chat-mode) (efrit-lsp-chat-mode))
    (unless (eq efrit-lsp--chat-server server)
      (when efrit-lsp--chat-server
        (efrit-lsp--chat-note
         (format "New conversation, with %s" (jsonrpc-name server))))
      (setq efrit-lsp--chat-server server
            efrit-lsp--chat-session nil))
    (current-buffer)))

(defun efrit-lsp--chat-pending (chat)
  "The chat job in flight for the chat buffer CHAT, if any."
  (cl-find-if (lambda (job)
                (and (eq (efrit-lsp--job-kind job) 'chat)
                     (markerp (efrit-lsp--job-end job))
                     (eq (marker-buffer (efrit-lsp--job-end job)) chat)))
              (efrit-lsp--live-jobs)))

(defun efrit-lsp--chat-source-buffer ()
  "The source buffer a chat message sent from the current buffer is about.
In the chat buffer, the source of the previous message while it is
still managed by the same server, else nil."
  (if (derived-mode-p 'efrit-lsp-chat-mode)
      (let ((source efrit-lsp--chat-source)
            (server efrit-lsp--chat-server))
        (and (buffer-live-p source)
             (eq server (with-current-buffer source (eglot-current-server)))
             source))
    (current-buffer)))

;;;###autoload
(defun efrit-lsp-chat (message &optional beg end)
  "Send MESSAGE to efrit, about the current file and its text from BEG to END.
The reply streams into the chat buffer (`efrit-lsp-chat-buffer-name');
later messages continue the same conversation.  Interactively, BEG and
END are the active region, else point.  Sent from the chat buffer, the
message is about the file the previous one was about, at its point.
Returns the chat buffer."
  (interactive
   (let ((bounds (unless (derived-mode-p 'efrit-lsp-chat-mode)
                   (efrit-lsp--region-or-point))))
     (cons (read-string "Ask efrit: ") bounds)))
  (when (string-empty-p (string-trim message))
    (user-error "efrit: nothing to send"))
  (let* ((source (efrit-lsp--chat-source-buffer))
         (server (if source
                     (with-current-buffer source (efrit-lsp--server))
                   (efrit-lsp--server)))
         (chat (efrit-lsp--chat-buffer server))
         document where)
    (when (efrit-lsp--chat-pending chat)
      (user-error "efrit: still answering the last message — wait, or %s"
                  (efrit-lsp--cancel-hint)))
    (when source
      (with-current-buffer source
        (efrit-lsp--flush)
        (let* ((beg (or beg (point)))
               (end (or end beg)))
          (setq document (list :textDocument (eglot--TextDocumentIdentifier)
                               :range (efrit-lsp--range beg end))
                where (efrit-lsp--where beg end)))))
    (with-current-buffer chat
      (when source (setq efrit-lsp--chat-source source))
      (let ((inhibit-read-only t)
            (session efrit-lsp--chat-session)
            start end)
        (save-excursion
          (goto-char (point-max))
          (insert (propertize "You:" 'face 'efrit-lsp-chat-user)
                  " " message "\n")
          (when where
            (insert (propertize (format "  (about %s)" where)
                                'face 'efrit-lsp-context)
                    "\n"))
          (insert "\n" (propertize "Efrit:" 'face 'efrit-lsp-chat-assistant)
                  " ")
          (setq start (point-marker)
                end (copy-marker (point) t)))
        (let ((job (efrit-lsp--job-create
                    :server server :kind 'chat :title "chat" :origin source
                    :session-id session :start start :end end)))
          (efrit-lsp--send
           job :efrit/chat
           (append (list :message message)
                   (and session (list :sessionId session))
                   document)
           :on-result (lambda (result) (efrit-lsp--chat-done job chat result))
           :on-error (lambda (error) (efrit-lsp--chat-failed job chat error)))))
      (goto-char (point-max)))
    (display-buffer chat)
    chat))

(defun efrit-lsp--chat-done (job chat result)
  "Show RESULT, the answer to JOB, in the chat buffer CHAT."
  (when (buffer-live-p chat)
    (with-current-buffer chat
      (setq efrit-lsp--chat-session (plist-get result :sessionId)))
    (efrit-lsp--set-text job (or (plist-get result :reply) ""))
    (efrit-lsp--insert (efrit-lsp--job-end job) "\n\n")))

(defun efrit-lsp--chat-failed (job chat error)
  "Show ERROR, the failure of JOB, in the chat buffer CHAT."
  (let ((text (efrit-lsp--error-message error)))
    (when (buffer-live-p chat)
      (efrit-lsp--insert (efrit-lsp--job-end job)
                         (format "%s[%s]"
                                 (if (efrit-lsp--job-streamed job) " " "")
                                 text)
                         'efrit-lsp-error)
      (efrit-lsp--insert (efrit-lsp--job-end job) "\n\n")
      (when (equal (efrit-lsp--error-reason error) "unknownSession")
        (with-current-buffer chat
          (setq efrit-lsp--chat-session nil)
          (efrit-lsp--chat-note "The server no longer has this conversation; \
the next message starts a new one"))))
    (message "efrit: chat: %s" text)))

;;;###autoload
(defun efrit-lsp-chat-new-session ()
  "End the current conversation, so that the next chat message begins anew."
  (interactive)
  (when-let ((chat (get-buffer efrit-lsp-chat-buffer-name)))
    (with-current-buffer chat
      (when (and efrit-lsp--chat-session
                 (jsonrpc-running-p efrit-lsp--chat-server))
        (jsonrpc-async-request efrit-lsp--chat-server :efrit/endSession
                               (list :sessionId efrit-lsp--chat-session)
                               :success-fn #'ignore :error-fn #'ignore))
      (setq efrit-lsp--chat-session nil)
      (efrit-lsp--chat-note "New conversation"))))

;;;; Do

;;;###autoload
(defun efrit-lsp-do (instruction &optional beg end)
  "Have efrit carry out INSTRUCTION on the current file, around BEG to END.
The agent may read the workspace before it answers; its edit is
applied to the buffer (Eglot asks first unless
`eglot-confirm-server-initiated-edits' is nil).  Interactively, BEG and
END are the active region, else point.  The summary goes to the echo
area and the output buffer."
  (interactive (cons (read-string "Efrit, do: ") (efrit-lsp--region-or-point)))
  (when (string-empty-p (string-trim instruction))
    (user-error "efrit: no instruction given"))
  (let* ((server (efrit-lsp--server))
         (beg (or beg (point)))
         (end (or end beg))
         (title (format "Do: %s" (truncate-string-to-width
                                  instruction 50 nil nil "…")))
         (section (efrit-lsp--output-section
                   (format "%s (%s)" title (efrit-lsp--where beg end))))
         (job (efrit-lsp--job-create :server server :kind 'do :title title
                                     :origin (current-buffer)
                                     :start (car section) :end (cdr section))))
    (efrit-lsp--flush)
    (efrit-lsp--send
     job :efrit/do
     (list :instruction instruction
           :textDocument (eglot--TextDocumentIdentifier)
           :range (efrit-lsp--range beg end)
           :apply t)
     :on-result
     (lambda (result)
       (let* ((summary (or (plist-get result :summary) ""))
              (outcome (cond ((eq (plist-get result :applied) t) "edit applied")
                             ((plist-get result :edit) "edit not applied")
                             (t "no edit"))))
         (efrit-lsp--set-text job (format "%s\n[%s]" summary outcome))
         (message "efrit: %s%s"
                  (if (string-empty-p summary) "" (concat summary " — "))
                  outcome)))
     :on-error
     (lambda (error)
       (let ((text (efrit-lsp--error-message error)))
         (efrit-lsp--insert (efrit-lsp--job-end job) (format "[%s]" text)
                            'efrit-lsp-error)
         (message "efrit: do: %s" text))))
    (message "efrit: working on it… (%s)" (efrit-lsp--cancel-hint))
    job))

;;;; Actions (explain, rewrite, …), also when picked from Eglot's menu

(defun efrit-lsp--action-title (action-id)
  "A title for the action ACTION-ID."
  (pcase action-id
    ("explain" "Explain")
    ("rewrite" "Rewrite")
    ("document" "Add documentation")
    ("tests" "Write tests")
    ("fix" "Fix")
    (_ action-id)))

(defun efrit-lsp--execute (server command arguments &optional display)
  "Run the efrit COMMAND with ARGUMENTS on SERVER, asynchronously.
COMMAND is a string, ARGUMENTS a vector.  The text the job streams goes
to the output buffer, displayed at once when DISPLAY; an edit comes
back through workspace/applyEdit.  Returns the job."
  (let* ((argument (and (> (length arguments) 0) (aref arguments 0)))
         (action-id (plist-get argument :actionId))
         (title (if action-id (efrit-lsp--action-title action-id) command))
         (range (plist-get argument :range))
         (heading (if range
                      (format "Efrit: %s (%s)" title (efrit-lsp--range-lines range))
                    (format "Efrit: %s" title)))
         (section (efrit-lsp--output-section heading))
         (job (efrit-lsp--job-create :server server :kind 'action :title title
                                     :origin (current-buffer) :display display
                                     :start (car section) :end (cdr section))))
    (when display (display-buffer (efrit-lsp--output-buffer)))
    (efrit-lsp--send
     job :workspace/executeCommand (list :command command :arguments arguments)
     :on-result
     (lambda (result)
       (let ((text (plist-get result :text)))
         (cond ((eq (plist-get result :applied) t)
                (when text (efrit-lsp--set-text job text))
                (message "efrit: %s applied%s" title
                         (if text (concat " — " text) "")))
               ((and (stringp text) (not (string-empty-p text)))
                (efrit-lsp--set-text job text)
                (display-buffer (efrit-lsp--output-buffer))
                (message "efrit: %s — see %s" title
                         efrit-lsp-output-buffer-name))
               (t (message "efrit: %s finished without an edit" title)))))
     :on-error
     (lambda (error)
       (let ((text (efrit-lsp--error-message error)))
         (efrit-lsp--insert (efrit-lsp--job-end job) (format "[%s]" text)
                            'efrit-lsp-error)
         (message "efrit: %s: %s" title text))))
    (message "efrit: %s running… (%s)" title (efrit-lsp--cancel-hint))
    job))

;;;###autoload
(defun efrit-lsp-run-action (action-id beg end &optional instruction)
  "Run the efrit action ACTION-ID on the text from BEG to END.
ACTION-ID is \"explain\", \"rewrite\", \"document\", \"tests\", \"fix\" or
the id of one of the server's user-defined `actions'.  INSTRUCTION, if
non-nil, tells the model more.  Interactively, BEG and END are the
active region, else the defun at point, else the line."
  (interactive
   (cons (completing-read "Efrit action: "
                          '("explain" "document" "rewrite" "tests" "fix"))
         (efrit-lsp--region-or 'defun)))
  (let ((server (efrit-lsp--server)))
    (efrit-lsp--flush)
    (efrit-lsp--execute
     server "efrit.runAction"
     (vector (append (list :actionId action-id
                           :textDocument (eglot--TextDocumentIdentifier)
                           :range (efrit-lsp--range beg end))
                     (and instruction (list :instruction instruction))))
     (equal action-id "explain"))))

;;;###autoload
(defun efrit-lsp-explain (beg end)
  "Explain the code from BEG to END; the text streams into the output buffer.
Interactively, the active region, else the defun at point, else the line."
  (interactive (efrit-lsp--region-or 'defun))
  (efrit-lsp-run-action "explain" beg end))

;;;###autoload
(defun efrit-lsp-rewrite (instruction beg end)
  "Rewrite the code from BEG to END following INSTRUCTION.
Interactively, the active region, else the defun at point, else the line."
  (interactive (cons (read-string "Rewrite how? ")
                     (efrit-lsp--region-or 'defun)))
  (efrit-lsp-run-action "rewrite" beg end
                        (unless (string-empty-p (string-trim instruction))
                          instruction)))

;; Eglot 1.9 runs the command of a picked code action with a synchronous
;; `jsonrpc-request': Emacs would wait for the model, and give up after
;; ten seconds.  The efrit ones run asynchronously instead.
(cl-defmethod eglot-execute-command
  (server (_command (eql efrit.runAction)) arguments)
  "Run efrit.runAction with ARGUMENTS on SERVER without blocking Emacs."
  (if efrit-lsp-async-code-actions
      (efrit-lsp--execute
       server "efrit.runAction" arguments
       (equal (plist-get (and (> (length arguments) 0) (aref arguments 0))
                         :actionId)
              "explain"))
    (cl-call-next-method)))

(cl-defmethod eglot-execute-command
  (server (_command (eql efrit.applyJob)) arguments)
  "Run efrit.applyJob with ARGUMENTS on SERVER without blocking Emacs."
  (if efrit-lsp-async-code-actions
      (efrit-lsp--execute server "efrit.applyJob" arguments)
    (cl-call-next-method)))

;;;; Status, cancel, sync check

(defun efrit-lsp--status-line (status)
  "One line summing up STATUS, an efrit/status result."
  (let ((queue (plist-get status :queue))
        (usage (plist-get status :usage)))
    (format (concat "efrit-lsp %s · %s · jobs: %s running, %s queued"
                    " · sessions: %s · model calls: %s, tokens in %s"
                    " (+%s from the prompt cache) / out %s%s")
            (plist-get status :version) (plist-get status :model)
            (plist-get queue :running) (plist-get queue :queued)
            (plist-get (plist-get status :sessions) :open)
            (plist-get usage :requests) (plist-get usage :inputTokens)
            (plist-get usage :cacheReadTokens) (plist-get usage :outputTokens)
            (if (eq (plist-get status :apiKeyConfigured) :json-false)
                " · NO API KEY: set ANTHROPIC_API_KEY for the server"
              ""))))

;;;###autoload
(defun efrit-lsp-status (&optional details)
  "Show the server's status (queue, sessions, usage) in the echo area.
With prefix argument DETAILS, show all of it in a buffer.  Returns the
status as a plist."
  (interactive "P")
  (let ((status (jsonrpc-request (efrit-lsp--server) :efrit/status
                                 (make-hash-table) :timeout 10)))
    (if (not details)
        (message "%s" (efrit-lsp--status-line status))
      (with-current-buffer (get-buffer-create "*efrit-status*")
        (let ((inhibit-read-only t))
          (erase-buffer)
          (insert (efrit-lsp--status-line status) "\n\n")
          (pp status (current-buffer))
          (goto-char (point-min))
          (special-mode))
        (display-buffer (current-buffer))))
    status))

(defun efrit-lsp--cancel-job (job)
  "Cancel JOB: $/cancelRequest for its request, efrit/cancel for its job."
  (let ((server (efrit-lsp--job-server job)))
    (when (efrit-lsp--job-request-id job)
      (jsonrpc-notify server :$/cancelRequest
                      (list :id (efrit-lsp--job-request-id job))))
    (when (efrit-lsp--job-job-id job)
      (jsonrpc-async-request server :efrit/cancel
                             (list :jobId (efrit-lsp--job-job-id job))
                             :success-fn #'ignore :error-fn #'ignore))))

;;;###autoload
(defun efrit-lsp-cancel (&optional all)
  "Cancel the efrit requests started from this buffer.
In the chat buffer, that is the reply being written.  With prefix
argument ALL, or when nothing was started here, cancel every job on
this buffer's efrit server."
  (interactive "P")
  (let* ((server (efrit-lsp--server))
         (buffer (current-buffer))
         (ours (cl-remove-if-not
                (lambda (job) (eq (efrit-lsp--job-server job) server))
                (efrit-lsp--live-jobs)))
         (here (cl-remove-if-not
                (lambda (job)
                  (let ((end (efrit-lsp--job-end job)))
                    (or (eq (efrit-lsp--job-origin job) buffer)
                        (and (markerp end) (eq (marker-buffer end) buffer)))))
                ours)))
    (if (and here (not all))
        (progn
          (mapc #'efrit-lsp--cancel-job here)
          (message "efrit: cancelling %s"
                   (mapconcat #'efrit-lsp--job-title here ", ")))
      (mapc #'efrit-lsp--cancel-job ours)
      (jsonrpc-async-request
       server :efrit/cancel (make-hash-table)
       :success-fn (lambda (result)
                     (message "efrit: cancelled %s job(s)"
                              (plist-get result :cancelled)))
       :error-fn (lambda (error)
                   (message "efrit: cancel failed: %s"
                            (efrit-lsp--error-message error)))))))

(defun efrit-lsp-document-text ()
  "The server's copy of the current buffer, as a plist (:uri :version :text).
Sends pending changes first."
  (let ((server (efrit-lsp--server)))
    (efrit-lsp--flush)
    (jsonrpc-request server :efrit/documentText
                     (list :textDocument (eglot--TextDocumentIdentifier))
                     :timeout 10)))

;;;###autoload
(defun efrit-lsp-check-sync ()
  "Say whether the server's copy of this buffer matches it.
Returns non-nil when it does."
  (interactive)
  (let* ((copy (efrit-lsp-document-text))
         (same (equal (plist-get copy :text)
                      (save-restriction
                        (widen)
                        (buffer-substring-no-properties (point-min)
                                                        (point-max))))))
    (if same
        (message "efrit: the server's copy of %s is in sync (version %s)"
                 (buffer-name) (plist-get copy :version))
      (message "efrit: the server's copy of %s differs from the buffer \
(version %s); M-x eglot-reconnect sends it afresh"
               (buffer-name) (plist-get copy :version)))
    same))

;;;; Ghost text (inline completion)

(defcustom efrit-lsp-ghost-idle-delay 0.2
  "Seconds of idle time after an edit before `efrit-lsp-ghost-mode' asks.
The server waits a little more itself (it debounces automatic
requests), and answers an older request empty when a newer one for the
same file comes, so a short delay does not cost a model call per
keystroke."
  :type 'number)

(defcustom efrit-lsp-ghost-timeout 30
  "Seconds to wait for a suggestion before giving up on it."
  :type 'number)

(defface efrit-lsp-ghost '((t :inherit shadow))
  "Face of the suggestion shown as ghost text after point.")

(defvar efrit-lsp-ghost-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "TAB") #'efrit-lsp-ghost-accept)
    (define-key map (kbd "<tab>") #'efrit-lsp-ghost-accept)
    (define-key map (kbd "C-g") #'efrit-lsp-ghost-dismiss)
    map)
  "Keys active only while a suggestion shows at point.
The map is the `keymap' property of the suggestion's overlay, so TAB
accepts while a suggestion shows and does what it always does
otherwise.")

(defvar efrit-lsp-ghost-mode)

(defvar-local efrit-lsp--ghost nil
  "The suggestion shown in this buffer, as a plist, or nil.
Keys: :overlay, :text, :command (the item's LSP command), :server, and
:point, :tick and :size, where it shows and the buffer when it came.")

(defvar-local efrit-lsp--ghost-requests 0
  "Suggestion requests sent from this buffer; the latest is the number.")

(defvar-local efrit-lsp--ghost-pending nil
  "The number of the latest suggestion request while it is unanswered.")

(defvar-local efrit-lsp--ghost-timer nil
  "The idle timer that asks for a suggestion after an edit.")

(defvar-local efrit-lsp--ghost-last-tick nil
  "`buffer-chars-modified-tick' after the previous command.")

(defun efrit-lsp-ghost-text ()
  "The suggestion shown at point in the current buffer, or nil."
  (plist-get efrit-lsp--ghost :text))

(defun efrit-lsp--ghost-inline-p (server)
  "Non-nil if SERVER offers inline completion."
  (not (memq (plist-get (eglot--capabilities server) :inlineCompletionProvider)
             '(nil :json-false))))

(defun efrit-lsp--ghost-cancel-timer ()
  "Cancel the pending idle request of the current buffer, if any."
  (when (timerp efrit-lsp--ghost-timer)
    (cancel-timer efrit-lsp--ghost-timer))
  (setq efrit-lsp--ghost-timer nil))

(defun efrit-lsp--ghost-clear ()
  "Remove the suggestion shown in the current buffer, if any."
  (when-let ((overlay (plist-get efrit-lsp--ghost :overlay)))
    (delete-overlay overlay))
  (setq efrit-lsp--ghost nil)
  (unless efrit-lsp-ghost-mode
    (remove-hook 'post-command-hook #'efrit-lsp--ghost-post-command t)))

(defun efrit-lsp--ghost-show (server text command)
  "Show TEXT from SERVER as ghost text at point; COMMAND runs on accepting."
  (efrit-lsp--ghost-clear)
  ;; Empty, and rear-advance so that its `keymap' applies at point.
  (let ((overlay (make-overlay (point) (point) nil nil t))
        (display (propertize text 'face 'efrit-lsp-ghost)))
    ;; The cursor stays at point, before the suggestion.
    (put-text-property 0 1 'cursor t display)
    (overlay-put overlay 'after-string display)
    (overlay-put overlay 'keymap efrit-lsp-ghost-map)
    (overlay-put overlay 'priority 100)
    (overlay-put overlay 'efrit-lsp-ghost t)
    (setq efrit-lsp--ghost (list :overlay overlay :text text :command command
                                 :server server :point (point)
                                 :tick (buffer-chars-modified-tick)
                                 :size (buffer-size)))
    (add-hook 'post-command-hook #'efrit-lsp--ghost-post-command nil t)))

(defun efrit-lsp--ghost-request (server trigger)
  "Ask SERVER for a suggestion at point, asynchronously.
TRIGGER is 1 when the user asked, 2 when typing did.  The answer is
shown only if it answers the latest request and neither the buffer nor
point changed meanwhile.  Returns the request's number."
  (efrit-lsp--flush)
  (let* ((buffer (current-buffer))
         (id (cl-incf efrit-lsp--ghost-requests))
         (tick (buffer-chars-modified-tick))
         (point (point))
         (invoked (eql trigger 1))
         (failed (lambda (text)
                   (when (buffer-live-p buffer)
                     (with-current-buffer buffer
                       (when (eql id efrit-lsp--ghost-pending)
                         (setq efrit-lsp--ghost-pending nil)
                         (when invoked
                           (message "efrit: no suggestion: %s" text))))))))
    (setq efrit-lsp--ghost-pending id)
    (jsonrpc-async-request
     server :textDocument/inlineCompletion
     (list :textDocument (eglot--TextDocumentIdentifier)
           :position (eglot--pos-to-lsp-position)
           :context (list :triggerKind trigger))
     :success-fn
     (lambda (result)
       (when (buffer-live-p buffer)
         (with-current-buffer buffer
           (when (eql id efrit-lsp--ghost-pending)
             (setq efrit-lsp--ghost-pending nil)
             (efrit-lsp--ghost-answer server result tick point invoked)))))
     :error-fn (lambda (error)
                 (funcall failed (efrit-lsp--error-message error)))
     :timeout-fn (lambda () (funcall failed "no answer in time"))
     :timeout efrit-lsp-ghost-timeout)
    id))

(defun efrit-lsp--ghost-answer (server result tick point invoked)
  "Show the first suggestion of RESULT, SERVER's answer, if still wanted.
TICK and POINT are the buffer's when it was asked; INVOKED says the
user asked, so an empty answer is said."
  (let* ((items (if (vectorp result) result (plist-get result :items)))
         (item (seq-find (lambda (item)
                           (let ((text (plist-get item :insertText)))
                             (and (stringp text) (not (string-empty-p text)))))
                         items)))
    (cond ((or (/= tick (buffer-chars-modified-tick)) (/= point (point))))
          (item (efrit-lsp--ghost-show server (plist-get item :insertText)
                                       (plist-get item :command)))
          (invoked (message "efrit: no suggestion here")))))

(defun efrit-lsp--ghost-typed-ahead (ghost)
  "Show the rest of GHOST if the last command typed its beginning.
Returns non-nil if it did."
  (let* ((start (plist-get ghost :point))
         (text (plist-get ghost :text))
         (typed (- (point) start)))
    (when (and (> typed 0) (< typed (length text))
               (>= start (point-min))
               (= (buffer-size) (+ (plist-get ghost :size) typed))
               (string= (buffer-substring-no-properties start (point))
                        (substring text 0 typed)))
      (efrit-lsp--ghost-show (plist-get ghost :server) (substring text typed)
                             (plist-get ghost :command))
      t)))

(defun efrit-lsp--ghost-post-command ()
  "After a command: keep, shorten or clear the suggestion; maybe ask anew.
The suggestion stays while neither point nor the buffer changed; typing
its beginning leaves the rest; anything else clears it.  In
`efrit-lsp-ghost-mode', an edit arms the idle request."
  (let ((tick (buffer-chars-modified-tick))
        (ghost efrit-lsp--ghost))
    (when (and ghost
               (not (and (= (point) (plist-get ghost :point))
                         (= tick (plist-get ghost :tick))))
               (not (efrit-lsp--ghost-typed-ahead ghost)))
      (efrit-lsp--ghost-clear))
    (when (and efrit-lsp-ghost-mode
               (not (eql tick efrit-lsp--ghost-last-tick))
               (not efrit-lsp--ghost)
               (not (eq this-command 'efrit-lsp-ghost-accept)))
      (efrit-lsp--ghost-cancel-timer)
      (setq efrit-lsp--ghost-timer
            (run-with-idle-timer efrit-lsp-ghost-idle-delay nil
                                 #'efrit-lsp--ghost-idle (current-buffer))))
    (setq efrit-lsp--ghost-last-tick tick)))

(defun efrit-lsp--ghost-idle (buffer)
  "Ask for a suggestion in BUFFER, if the user is still typing there."
  (when (and (buffer-live-p buffer)
             (eq buffer (window-buffer (selected-window))))
    (with-current-buffer buffer
      (setq efrit-lsp--ghost-timer nil)
      (let ((server (eglot-current-server)))
        (when (and efrit-lsp-ghost-mode
                   (not efrit-lsp--ghost)
                   (not buffer-read-only)
                   (not (use-region-p))
                   (efrit-lsp--efrit-server-p server)
                   (efrit-lsp--ghost-inline-p server))
          (efrit-lsp--ghost-request server 2))))))

;;;###autoload
(defun efrit-lsp-ghost-complete ()
  "Ask efrit for a suggestion at point now, and show it as ghost text.
Works with or without `efrit-lsp-ghost-mode'; the server never skips
or delays a request made this way.\\<efrit-lsp-ghost-map>
\\[efrit-lsp-ghost-accept] accepts the suggestion;
\\[efrit-lsp-ghost-dismiss], or any command that moves point or edits,
clears it."
  (interactive)
  (let ((server (efrit-lsp--server)))
    (unless (efrit-lsp--ghost-inline-p server)
      (user-error "efrit: the server offers no inline completion"))
    (efrit-lsp--ghost-cancel-timer)
    (efrit-lsp--ghost-clear)
    (efrit-lsp--ghost-request server 1)))

(defun efrit-lsp-ghost-accept ()
  "Insert the suggestion shown at point, and tell the server.
The server counts it as accepted (`completion.accepted' in
\\[efrit-lsp-status] with a prefix argument)."
  (interactive)
  (let ((ghost efrit-lsp--ghost))
    (unless ghost (user-error "efrit: no suggestion to accept"))
    (let ((server (plist-get ghost :server))
          (command (plist-get ghost :command)))
      (efrit-lsp--ghost-clear)
      (goto-char (plist-get ghost :point))
      (insert (plist-get ghost :text))
      (when (and command (jsonrpc-running-p server))
        (efrit-lsp--flush)
        (jsonrpc-async-request
         server :workspace/executeCommand
         (append (list :command (plist-get command :command))
                 (and (plist-get command :arguments)
                      (list :arguments (plist-get command :arguments))))
         :success-fn #'ignore
         :error-fn (lambda (error)
                     (message "efrit: %s: %s" (plist-get command :command)
                              (efrit-lsp--error-message error)))
         :timeout-fn #'ignore)))))

(defun efrit-lsp-ghost-dismiss ()
  "Clear the suggestion, and drop the answer to a request in flight."
  (interactive)
  (efrit-lsp--ghost-cancel-timer)
  (setq efrit-lsp--ghost-pending nil)
  (efrit-lsp--ghost-clear))

;;;###autoload
(define-minor-mode efrit-lsp-ghost-mode
  "Show efrit's suggestions as ghost text after point while you type.
After an edit and `efrit-lsp-ghost-idle-delay' seconds of idle time,
the buffer's efrit server is asked for a suggestion at point; it shows
in the face `efrit-lsp-ghost'.\\<efrit-lsp-ghost-map>

While a suggestion shows (and only then, so TAB otherwise does what
it always does), \\[efrit-lsp-ghost-accept] accepts it and
\\[efrit-lsp-ghost-dismiss] clears it; any command that moves point or
edits clears it too, except typing its beginning, which leaves the
rest.  These keys are in `efrit-lsp-ghost-map'.
\\[efrit-lsp-ghost-complete] asks at once, also without this mode."
  :lighter " Ghost"
  (efrit-lsp-ghost-dismiss)
  (if efrit-lsp-ghost-mode
      (progn
        (setq efrit-lsp--ghost-last-tick (buffer-chars-modified-tick))
        (add-hook 'post-command-hook #'efrit-lsp--ghost-post-command nil t))
    (remove-hook 'post-command-hook #'efrit-lsp--ghost-post-command t)))

;;;; Key map

;;;###autoload
(defvar efrit-lsp-command-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "c") #'efrit-lsp-chat)
    (define-key map (kbd "d") #'efrit-lsp-do)
    (define-key map (kbd "e") #'efrit-lsp-explain)
    (define-key map (kbd "r") #'efrit-lsp-rewrite)
    (define-key map (kbd "a") #'eglot-code-actions)
    (define-key map (kbd "s") #'efrit-lsp-status)
    (define-key map (kbd "k") #'efrit-lsp-cancel)
    (define-key map (kbd "n") #'efrit-lsp-chat-new-session)
    (define-key map (kbd "g") #'efrit-lsp-ghost-complete)
    (define-key map (kbd "G") #'efrit-lsp-ghost-mode)
    map)
  "Keymap of efrit commands, to bind to a prefix key of your choice.")

(provide 'efrit-lsp)
;;; efrit-lsp.el ends here
