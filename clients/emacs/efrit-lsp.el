;;; efrit-lsp.el --- Chat, agent and code actions of the efrit-lsp AI server  -*- lexical-binding: t -*-

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
;; (`efrit-lsp --stdio').  Any LSP client already gets its code actions
;; ("Efrit: Explain", "Efrit: Add documentation", "Efrit: Fix: …"); this
;; package adds what plain LSP cannot carry:
;;
;;   `efrit-lsp-chat'        a conversation in the *efrit-chat* buffer about
;;                           the current file and region; replies stream
;;                           in, later messages continue the conversation.
;;   `efrit-lsp-do'          an instruction for the agent; its change
;;                           (in one or more files) is shown as a diff
;;                           in *efrit-review*, to accept, reject, or
;;                           accept without some files
;;                           (efrit-lsp-review.el).
;;   `efrit-lsp-review'      back to the change that waits for review.
;;   `efrit-lsp-explain'     explain the region (or the defun at point); the
;;                           text streams into *efrit-output*.
;;   `efrit-lsp-rewrite'     rewrite the region as instructed.
;;   `efrit-lsp-status'      queue, sessions, cache and token usage.
;;   `efrit-lsp-cancel'      stop what was started here (C-u: every job).
;;   `efrit-lsp-check-sync'  compare the server's copy of the buffer with it.
;;   `efrit-lsp-ghost-mode'  ghost text: suggestions after point as you
;;                           type; TAB accepts while one shows
;;                           (efrit-lsp-ghost.el).
;;
;; The commands work over Eglot (efrit-lsp-eglot.el, loaded with this
;; file) and over lsp-mode (efrit-lsp-mode.el, loaded by
;; (require 'efrit-lsp-mode)).  Both plug into the same few transport
;; functions below, so every command behaves the same with either.
;;
;; Every request is asynchronous: Emacs stays responsive while the model
;; works, and text arrives through `efrit/stream' notifications.
;;
;; Setup with Eglot:
;;
;;   (require 'efrit-lsp)
;;   (setq efrit-lsp-major-modes '(python-mode js-mode))
;;   (efrit-lsp-setup)            ; adds the server to `eglot-server-programs'
;;   (global-set-key (kbd "C-c e") efrit-lsp-command-map)
;;
;; then M-x eglot in a source buffer.  With lsp-mode:
;;
;;   (require 'efrit-lsp-mode)    ; registers an add-on client
;;   (global-set-key (kbd "C-c e") efrit-lsp-command-map)
;;
;; then M-x lsp.  The server needs ANTHROPIC_API_KEY in its environment
;; (or `:apiKey' in `efrit-lsp-initialization-options'), or runs a
;; built-in demo model with --offline.

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'subr-x)

;;;; Customization

(defgroup efrit-lsp nil
  "Claude in Emacs through the efrit-lsp language server."
  :group 'tools
  :prefix "efrit-lsp-"
  :link '(emacs-commentary-link "efrit-lsp"))

(defcustom efrit-lsp-server-command '("efrit-lsp" "--stdio")
  "Command line that starts the efrit-lsp server, as a list of strings.
The default finds `efrit-lsp' on the variable `exec-path' (`npm install -g'
of the checkout puts it there).  For a checkout without installing,
something like
  (\"node\" \"/path/to/efrit-lsp/dist/efrit-lsp.cjs\" \"--stdio\").
Add \"--offline\" to try the built-in demo model without an API key.
Eglot reads it at the next `efrit-lsp-setup', lsp-mode at the next
server start."
  :type '(repeat string))

(defcustom efrit-lsp-major-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-ts-mode
    tsx-ts-mode go-mode go-ts-mode rust-mode rust-ts-mode c-mode c++-mode
    java-mode ruby-mode sh-mode)
  "Major modes whose buffers efrit-lsp serves.
Eglot: the modes `efrit-lsp-setup' registers.  lsp-mode: the modes
the add-on client activates in."
  :type '(repeat symbol))

(defcustom efrit-lsp-initialization-options nil
  "Settings sent to the server as `initializationOptions', as a plist.
The keys are the server's settings (see its README), for example
  (:model \"claude-sonnet-5-5\" :maxTokens 8192 :queue (:concurrency 2))
Write JSON arrays as vectors and false as `:json-false'.  Read each
time a server starts."
  :type '(plist :key-type symbol :value-type sexp))

(defcustom efrit-lsp-request-timeout 300
  "Seconds to wait for a chat, do or action request before giving up on it.
The server bounds every job itself (its `queue.timeoutMs', two minutes
by default), so this is only a safety net; nil waits forever."
  :type '(choice (integer :tag "Seconds") (const :tag "No limit" nil)))

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

;;;; Transport: where Eglot and lsp-mode plug in
;;
;; A SERVER below is whatever object the LSP client uses for one
;; running server: an `eglot-lsp-server' (efrit-lsp-eglot.el) or an
;; `lsp--workspace' (efrit-lsp-mode.el).  Each of those files gives these
;; generic functions a method for its kind, adds a function to
;; `efrit-lsp-server-functions', and routes `efrit/stream' notifications
;; to `efrit-lsp--on-stream'.  Nothing else here knows which client runs.
;; Methods are keywords (:efrit/chat), parameters and results plists, as
;; JSON objects read with keyword keys.

(defvar efrit-lsp-server-functions nil
  "Functions that return the language server managing the current buffer.
Each is called with no arguments in a source buffer and returns a
server object of its LSP client, or nil; the first non-nil one wins.")

(cl-defgeneric efrit-lsp--send-request (server method params on-result on-error timeout)
  "Send the request METHOD with PARAMS to SERVER, asynchronously.
ON-RESULT is called with the result, ON-ERROR with a JSON-RPC error
plist (:code :message :data); after TIMEOUT seconds (nil: never)
ON-ERROR is called with `efrit-lsp--timeout-error'.  Returns the
request's id, for $/cancelRequest, or nil when the client hides it.")

(cl-defgeneric efrit-lsp--request (server method params timeout)
  "Send the request METHOD with PARAMS to SERVER and wait for its result.
Signal an error if none came within TIMEOUT seconds.")

(cl-defgeneric efrit-lsp--notify (server method params)
  "Send the notification METHOD with PARAMS to SERVER.")

(cl-defgeneric efrit-lsp--live-p (server)
  "Return non-nil if SERVER is a server object with a live process."
  (ignore server)
  nil)

(cl-defgeneric efrit-lsp--name (server)
  "A short name for SERVER, for messages.")

(cl-defgeneric efrit-lsp--capability (server path)
  "The value of SERVER's capability at PATH, a list of keywords, or nil.")

(cl-defgeneric efrit-lsp--document (server)
  "The current buffer's TextDocumentIdentifier for SERVER.")

(cl-defgeneric efrit-lsp--position (server pos)
  "The LSP position of POS in the current buffer, as SERVER counts it.")

(cl-defgeneric efrit-lsp--flush (server)
  "Send SERVER what was typed in the current buffer and not yet sent.
Call this before any request about the buffer's text."
  (ignore server))

(cl-defgeneric efrit-lsp--prepare-created-files (server files)
  "Prepare what SERVER's client needs to create FILES (names) in an edit.
Called when the user accepts a reviewed change that creates them."
  (ignore server files))

(cl-defgeneric efrit-lsp--code-actions (server)
  "Let the user pick one of SERVER's code actions for the region or point.")

(defun efrit-lsp--false-p (value)
  "Return non-nil if VALUE is JSON false or null, as either client gives it."
  (memq value '(nil :json-false)))

(defun efrit-lsp--timeout-error (seconds)
  "The error plist reported when a request had no answer after SECONDS."
  (list :message (format "no answer after %s s; the job may still run on \
the server (%s)" seconds (efrit-lsp--cancel-hint))
        :data (list :reason "timeout")))

;;;; Servers, positions, errors

(defvar-local efrit-lsp--chat-server nil
  "In the chat buffer: the server the conversation runs on.")
(defvar-local efrit-lsp--chat-session nil
  "In the chat buffer: the server's session id, once a reply named it.")
(defvar-local efrit-lsp--chat-source nil
  "In the chat buffer: the source buffer of the latest message.")
(defvar-local efrit-lsp--chat-turns 0
  "In the chat buffer: the replies of the current conversation so far.")

(defun efrit-lsp--efrit-server-p (server)
  "Non-nil if SERVER is a running efrit-lsp server."
  (and (efrit-lsp--live-p server)
       (seq-contains-p (efrit-lsp--capability
                        server '(:executeCommandProvider :commands))
                       "efrit.runAction")))

(defun efrit-lsp--buffer-server ()
  "The language server managing the current buffer, or nil.
Asks `efrit-lsp-server-functions'."
  (run-hook-with-args-until-success 'efrit-lsp-server-functions))

(defun efrit-lsp--server ()
  "The efrit-lsp server of the current buffer.
Signal a `user-error' that says what to do when there is none."
  (let ((server (if (derived-mode-p 'efrit-lsp-chat-mode)
                    efrit-lsp--chat-server
                  (efrit-lsp--buffer-server))))
    (cond ((efrit-lsp--efrit-server-p server) server)
          ((efrit-lsp--live-p server)
           (user-error "efrit: this buffer's language server is %s, not \
efrit-lsp; see `efrit-lsp-setup' (Eglot) or efrit-lsp-mode.el (lsp-mode)"
                       (efrit-lsp--name server)))
          (t (user-error "efrit: not connected — M-x eglot first \
(after M-x efrit-lsp-setup), or M-x lsp with efrit-lsp-mode loaded")))))

(defun efrit-lsp--range (server beg end)
  "The LSP range from BEG to END in the current buffer, for SERVER."
  (list :start (efrit-lsp--position server (min beg end))
        :end (efrit-lsp--position server (max beg end))))

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
         (lambda (job) (efrit-lsp--live-p (efrit-lsp--job-server job)))
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
text of a job no request here named goes to the output buffer.  Each
client's backend calls this for every efrit/stream notification."
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

(defun efrit-lsp--with-stream-id (method params stream-id)
  "Return PARAMS of METHOD with STREAM-ID where the server expects it.
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
  (let ((finishing (lambda (fn)
                     (lambda (value)
                       (unwind-protect (when fn (funcall fn value))
                         (efrit-lsp--finish job))))))
    (setq efrit-lsp--jobs (append (efrit-lsp--live-jobs) (list job)))
    (condition-case err
        (setf (efrit-lsp--job-request-id job)
              (efrit-lsp--send-request
               (efrit-lsp--job-server job) method params
               (let ((done (funcall finishing on-result)))
                 (lambda (result)
                   (when-let ((id (plist-get result :jobId)))
                     (setf (efrit-lsp--job-job-id job) id))
                   (funcall done result)))
               (funcall finishing on-error)
               efrit-lsp-request-timeout))
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
  "Header line of the chat buffer: the source buffer and the conversation."
  (format " efrit chat — %s — %s"
          (if (buffer-live-p efrit-lsp--chat-source)
              (buffer-name efrit-lsp--chat-source)
            "no file")
          (if (and efrit-lsp--chat-session (> efrit-lsp--chat-turns 0))
              (format "conversation of %d %s; the next message continues it"
                      efrit-lsp--chat-turns
                      (if (= efrit-lsp--chat-turns 1) "turn" "turns"))
            "new conversation")))

(defun efrit-lsp--chat-note (text)
  "Insert TEXT as a note at the end of the current (chat) buffer."
  (let ((inhibit-read-only t))
    (save-excursion
      (goto-char (point-max))
      (unless (bolp) (insert "\n"))
      (insert (efrit-lsp--heading text) "\n\n"))))

(defun efrit-lsp--chat-forget-session ()
  "In the chat buffer: let the next message begin a new conversation."
  (setq efrit-lsp--chat-session nil
        efrit-lsp--chat-turns 0))

(defun efrit-lsp--chat-buffer (server)
  "The chat buffer, set up for SERVER.
A different server than last time starts a new conversation."
  (with-current-buffer (get-buffer-create efrit-lsp-chat-buffer-name)
    (unless (derived-mode-p 'efrit-lsp-chat-mode) (efrit-lsp-chat-mode))
    (unless (eq efrit-lsp--chat-server server)
      (when efrit-lsp--chat-server
        (efrit-lsp--chat-note
         (format "New conversation, with %s" (efrit-lsp--name server))))
      (setq efrit-lsp--chat-server server)
      (efrit-lsp--chat-forget-session))
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
             (eq server (with-current-buffer source (efrit-lsp--buffer-server)))
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
        (efrit-lsp--flush server)
        (let* ((beg (or beg (point)))
               (end (or end beg)))
          (setq document (list :textDocument (efrit-lsp--document server)
                               :range (efrit-lsp--range server beg end))
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
      (let ((session (plist-get result :sessionId)))
        (unless (equal session efrit-lsp--chat-session)
          (setq efrit-lsp--chat-turns 0))
        (setq efrit-lsp--chat-session session)
        (cl-incf efrit-lsp--chat-turns)))
    (efrit-lsp--set-text job (or (plist-get result :reply) ""))
    (efrit-lsp--insert (efrit-lsp--job-end job) "\n\n"))
  ;; Replaces the job's last status note ("asking …") in the echo area.
  (message "efrit: chat — replied in %s" efrit-lsp-chat-buffer-name))

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
          (efrit-lsp--chat-forget-session)
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
                 (efrit-lsp--live-p efrit-lsp--chat-server))
        (efrit-lsp--send-request efrit-lsp--chat-server :efrit/endSession
                                 (list :sessionId efrit-lsp--chat-session)
                                 #'ignore #'ignore 10))
      (efrit-lsp--chat-forget-session)
      (efrit-lsp--chat-note "New conversation"))))

;;;; Do

(defcustom efrit-lsp-review-changes t
  "When non-nil, `efrit-lsp-do' shows the agent's change for review first.
It goes to the buffer `efrit-lsp-review-buffer-name', a diff per file,
and is applied only when you accept it there (efrit-lsp-review.el).
When nil, the change is applied as soon as it comes (Eglot asks first
unless `eglot-confirm-server-initiated-edits' is nil)."
  :type 'boolean)

(defcustom efrit-lsp-save-opened-files t
  "When non-nil, a change efrit applies saves the files it opened.
Those are the files no buffer visited: the edits go to a new buffer
for each, which is then saved, so the change is on disk as shown.
Buffers you had open are edited and left for you to save, like any
edit."
  :type 'boolean)

(defun efrit-lsp--project-root ()
  "The current buffer's project root, else `default-directory'."
  (let ((project (and (fboundp 'project-current) (project-current))))
    (if project
        (expand-file-name (if (fboundp 'project-root)
                              (project-root project)
                            (car (with-no-warnings (project-roots project)))))
      default-directory)))

;;;###autoload
(defun efrit-lsp-do (instruction &optional beg end)
  "Have efrit carry out INSTRUCTION on the current file, around BEG to END.
The agent may read the workspace before it answers.  Its change,
which may touch several files, is shown for review in the buffer
`efrit-lsp-review-buffer-name' (a diff per file): accept it all, reject
it all, or reject some files and accept the rest (see
`efrit-lsp-review-mode').  With `efrit-lsp-review-changes' nil, the
change is applied at once instead.  Interactively, BEG and END are the
active region, else point.  The summary goes to the echo area and the
output buffer."
  (interactive (cons (read-string "Efrit, do: ") (efrit-lsp--region-or-point)))
  (when (string-empty-p (string-trim instruction))
    (user-error "efrit: no instruction given"))
  (let* ((server (efrit-lsp--server))
         (beg (or beg (point)))
         (end (or end beg))
         (root (efrit-lsp--project-root))
         (title (format "Do: %s" (truncate-string-to-width
                                  instruction 50 nil nil "…")))
         (section (efrit-lsp--output-section
                   (format "%s (%s)" title (efrit-lsp--where beg end))))
         (job (efrit-lsp--job-create :server server :kind 'do :title title
                                     :origin (current-buffer)
                                     :start (car section) :end (cdr section))))
    (efrit-lsp--flush server)
    (efrit-lsp--send
     job :efrit/do
     (list :instruction instruction
           :textDocument (efrit-lsp--document server)
           :range (efrit-lsp--range server beg end)
           :apply (if efrit-lsp-review-changes :json-false t))
     :on-result
     (lambda (result)
       (let* ((summary (or (plist-get result :summary) ""))
              (review (and efrit-lsp-review-changes
                           (not (eq (plist-get result :applied) t))
                           (plist-get result :edit)
                           (condition-case err
                               (efrit-lsp-review-show server result root)
                             (error
                              (display-warning
                               'efrit-lsp
                               (format "efrit: cannot show the change for review: %s"
                                       (error-message-string err)))
                              nil))))
              (outcome (cond (review
                              (substitute-command-keys
                               (format "to review in %s: \\<efrit-lsp-review-mode-map>\
\\[efrit-lsp-review-accept] accepts, \\[efrit-lsp-review-reject] rejects"
                                       (buffer-name review))))
                             ((eq (plist-get result :applied) t) "edit applied")
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

;;;; Actions (explain, rewrite, …), also when picked from the client's menu

(defun efrit-lsp--action-title (action-id)
  "A title for the action ACTION-ID."
  (pcase action-id
    ("explain" "Explain")
    ("rewrite" "Rewrite")
    ("document" "Add documentation")
    ("tests" "Write tests")
    ("fix" "Fix")
    (_ action-id)))

(defun efrit-lsp--explain-p (arguments)
  "Non-nil if ARGUMENTS, a command's arguments, run the explain action."
  (equal (plist-get (and (> (length arguments) 0) (aref arguments 0))
                    :actionId)
         "explain"))

(defun efrit-lsp--execute (server command arguments &optional display)
  "Run the efrit COMMAND with ARGUMENTS on SERVER, asynchronously.
COMMAND is a string, ARGUMENTS a vector.  The text the job streams goes
to the output buffer, displayed at once when DISPLAY; an edit comes
back through workspace/applyEdit.  Each backend runs the efrit
commands of a code action picked from its client's menu with this.
Returns the job."
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
    (efrit-lsp--flush server)
    (efrit-lsp--execute
     server "efrit.runAction"
     (vector (append (list :actionId action-id
                           :textDocument (efrit-lsp--document server)
                           :range (efrit-lsp--range server beg end))
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

;;;###autoload
(defun efrit-lsp-code-actions ()
  "Pick one of the code actions for the region or point, from any server.
The efrit ones (\"Efrit: …\") are among them; they run asynchronously."
  (interactive)
  (efrit-lsp--code-actions (efrit-lsp--server)))

;;;; Status, cancel, sync check

(defun efrit-lsp--spend-text (spend)
  "What SPEND, the `spend' of an efrit/status result, cost, as \" · spent …\".
Calls to a model with no known price are counted, never priced: a
made-up figure would mislead.  Empty when the server sends no spend."
  (let ((requests (or (plist-get spend :requests) 0))
        (unpriced (or (plist-get spend :unpricedRequests) 0)))
    (cond ((or (null spend) (zerop requests)) "")
          ((= unpriced requests) " · spent: no price known for this model (tokens only)")
          (t (format " · spent $%.4f%s" (plist-get spend :usd)
                     (if (zerop unpriced) ""
                       (format " (+%d call%s with no known price)" unpriced
                               (if (= unpriced 1) "" "s"))))))))

(defun efrit-lsp--provider-lines (providers)
  "One line per provider in PROVIDERS, the `providers' of an efrit/status result.
Each says the provider's requests, its tokens and its dollars, or
\"no price known (tokens only)\" where no price is known: a made-up
figure would mislead.  Every prompt token is in: those written to
the prompt cache too, and those read from it are said apart.  By
name; none from a server that sends no `providers'."
  (let (lines)
    (cl-loop for (key summary) on providers by #'cddr
             for requests = (or (plist-get summary :requests) 0)
             when (> requests 0)
             do (let ((read (or (plist-get summary :cacheReadTokens) 0))
                      (unpriced (or (plist-get summary :unpricedRequests) 0)))
                  (push (format "%s: %d request%s · tokens in %d%s, out %d · %s"
                                (substring (symbol-name key) 1)
                                requests (if (= requests 1) "" "s")
                                (+ (or (plist-get summary :inputTokens) 0)
                                   (or (plist-get summary :cacheWriteTokens) 0)
                                   read)
                                (if (zerop read) "" (format " (%d from the cache)" read))
                                (or (plist-get summary :outputTokens) 0)
                                (if (>= unpriced requests)
                                    "no price known (tokens only)"
                                  (format "$%.4f%s" (or (plist-get summary :usd) 0)
                                          (if (zerop unpriced) ""
                                            (format " (+%d call%s with no known price)"
                                                    unpriced (if (= unpriced 1) "" "s"))))))
                        lines)))
    (sort lines #'string<)))

(defun efrit-lsp--status-text (status)
  "STATUS, an efrit/status result, as the status line and one line per provider."
  (mapconcat #'identity
             (cons (efrit-lsp--status-line status)
                   (mapcar (lambda (line) (concat "  " line))
                           (efrit-lsp--provider-lines (plist-get status :providers))))
             "\n"))

(defun efrit-lsp--status-line (status)
  "One line summing up STATUS, an efrit/status result.
Tokens in are all the prompt's tokens: the uncached input plus what
was written to the prompt cache; those read from it are counted apart."
  (let* ((queue (plist-get status :queue))
         (usage (plist-get status :usage))
         (tokens (lambda (key) (or (plist-get usage key) 0))))
    (format (concat "efrit-lsp %s%s · %s · jobs: %s running, %s queued"
                    " · sessions: %s · model calls: %s, tokens in %s"
                    " (+%s from the prompt cache) / out %s%s%s")
            (plist-get status :version)
            (if (eq (plist-get status :offline) t) " (offline: demo model)" "")
            (plist-get status :model)
            (plist-get queue :running) (plist-get queue :queued)
            (plist-get (plist-get status :sessions) :open)
            (plist-get usage :requests)
            (+ (funcall tokens :inputTokens) (funcall tokens :cacheWriteTokens))
            (funcall tokens :cacheReadTokens) (funcall tokens :outputTokens)
            (efrit-lsp--spend-text (plist-get status :spend))
            (if (and (efrit-lsp--false-p (plist-get status :apiKeyConfigured))
                     (not (eq (plist-get status :offline) t)))
                " · NO API KEY: set ANTHROPIC_API_KEY for the server"
              ""))))

;;;###autoload
(defun efrit-lsp-status (&optional details)
  "Show the server's status (queue, sessions, usage, spend) in the echo area.
Below the status line, one line per provider that answered, with its
tokens and dollars (tokens only where no price is known).  With prefix
argument DETAILS, show all of it in a buffer.  Returns the status as a
plist."
  (interactive "P")
  (let ((status (efrit-lsp--request (efrit-lsp--server) :efrit/status
                                    (make-hash-table) 10)))
    (if (not details)
        (message "%s" (efrit-lsp--status-text status))
      (with-current-buffer (get-buffer-create "*efrit-status*")
        (let ((inhibit-read-only t))
          (erase-buffer)
          (insert (efrit-lsp--status-text status) "\n\n")
          (pp status (current-buffer))
          (goto-char (point-min))
          (special-mode))
        (display-buffer (current-buffer))))
    status))

(defun efrit-lsp--cancel-job (job)
  "Cancel JOB: $/cancelRequest for its request, efrit/cancel for its job."
  (let ((server (efrit-lsp--job-server job)))
    (when (efrit-lsp--job-request-id job)
      (efrit-lsp--notify server :$/cancelRequest
                         (list :id (efrit-lsp--job-request-id job))))
    (when (efrit-lsp--job-job-id job)
      (efrit-lsp--send-request server :efrit/cancel
                               (list :jobId (efrit-lsp--job-job-id job))
                               #'ignore #'ignore 10))))

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
      (efrit-lsp--send-request
       server :efrit/cancel (make-hash-table)
       (lambda (result)
         (message "efrit: cancelled %s job(s)" (plist-get result :cancelled)))
       (lambda (error)
         (message "efrit: cancel failed: %s" (efrit-lsp--error-message error)))
       10))))

(defun efrit-lsp-document-text ()
  "The server's copy of the current buffer, as a plist (:uri :version :text).
Sends pending changes first."
  (let ((server (efrit-lsp--server)))
    (efrit-lsp--flush server)
    (efrit-lsp--request server :efrit/documentText
                        (list :textDocument (efrit-lsp--document server))
                        10)))

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
(version %s); reconnecting sends it afresh"
               (buffer-name) (plist-get copy :version)))
    same))

;;;; Key map

;;;###autoload
(defvar efrit-lsp-command-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "c") #'efrit-lsp-chat)
    (define-key map (kbd "d") #'efrit-lsp-do)
    (define-key map (kbd "v") #'efrit-lsp-review)
    (define-key map (kbd "e") #'efrit-lsp-explain)
    (define-key map (kbd "r") #'efrit-lsp-rewrite)
    (define-key map (kbd "a") #'efrit-lsp-code-actions)
    (define-key map (kbd "s") #'efrit-lsp-status)
    (define-key map (kbd "k") #'efrit-lsp-cancel)
    (define-key map (kbd "n") #'efrit-lsp-chat-new-session)
    (define-key map (kbd "g") #'efrit-lsp-ghost-complete)
    (define-key map (kbd "G") #'efrit-lsp-ghost-mode)
    map)
  "Keymap of efrit commands, to bind to a prefix key of your choice.")

(declare-function efrit-lsp-ghost-complete "efrit-lsp-ghost" ())
(declare-function efrit-lsp-ghost-mode "efrit-lsp-ghost" (&optional arg))
(declare-function efrit-lsp-review-show "efrit-lsp-review" (server result &optional root))
(declare-function efrit-lsp-review "efrit-lsp-review" ())

(provide 'efrit-lsp)

;; The Eglot backend (Eglot is this package's dependency) and ghost text.
;; After `provide', since both require this file; not while compiling it.
(cl-eval-when (load eval)
  (require 'efrit-lsp-review)
  (require 'efrit-lsp-eglot)
  (require 'efrit-lsp-ghost))

;;; efrit-lsp.el ends here
