;;; efrit-lsp-eglot.el --- efrit-lsp over Eglot  -*- lexical-binding: t -*-

;; Copyright (C) 2025 The efrit-lsp authors

;; Author: The efrit-lsp authors
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The Eglot backend of efrit-lsp.el, loaded with it: registering the
;; server in `eglot-server-programs' (`efrit-lsp-setup'), proxy mode in
;; front of another language server, the transport methods for
;; `eglot-lsp-server', efrit/stream notifications, and efrit code
;; actions picked from Eglot's menu run asynchronously.
;;
;; Eglot 1.9 (Debian 12, Emacs 28) has fewer public functions than the
;; Eglot of Emacs 30; where this file needs one of Eglot's private
;; functions, it goes through `efrit-lsp-eglot--capability', the only
;; place that falls back to one when the public function is missing, or
;; through the buffer-side helpers below, which need no public one.

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)
(require 'efrit-lsp)

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
`efrit-lsp-setup'.  Eglot only: lsp-mode runs several servers in a
buffer itself."
  :type '(alist :key-type (choice (symbol :tag "Major mode")
                                  (repeat :tag "Major modes" symbol))
                :value-type (repeat :tag "Command" string))
  :group 'efrit-lsp)

(defcustom efrit-lsp-auto-start nil
  "When non-nil, `efrit-lsp-setup' starts Eglot in efrit-lsp's modes.
Those are `efrit-lsp-major-modes' and the modes of
`efrit-lsp-wrapped-servers'.
It adds `eglot-ensure' to each mode's hook."
  :type 'boolean
  :group 'efrit-lsp)

(defcustom efrit-lsp-async-code-actions t
  "When non-nil, Efrit code actions picked from Eglot's menu run asynchronously.
Eglot 1.9 runs a picked command synchronously, so Emacs would wait for
the model, and jsonrpc gives up after ten seconds (the server still
applies the edit when it is ready).  Asynchronously, Emacs stays
responsive, streamed text goes to the output buffer, and the edit
arrives through workspace/applyEdit."
  :type 'boolean
  :group 'efrit-lsp)

;;;; Registering the server with Eglot

(defun efrit-lsp-eglot--initialization-options (_server)
  "Return `efrit-lsp-initialization-options' for Eglot's initialize request."
  (or efrit-lsp-initialization-options (make-hash-table)))

(defun efrit-lsp-eglot--contact (&optional wrapped)
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
          (list :initializationOptions
                #'efrit-lsp-eglot--initialization-options)))

(defun efrit-lsp-eglot--wrapped-modes ()
  "The major modes of `efrit-lsp-wrapped-servers', as a flat list."
  (cl-loop for (modes . _) in efrit-lsp-wrapped-servers
           append (mapcar (lambda (mode) (if (consp mode) (car mode) mode))
                          (if (listp modes) modes (list modes)))))

(defun efrit-lsp-eglot--wrapped-entries ()
  "`eglot-server-programs' entries for `efrit-lsp-wrapped-servers'."
  (cl-loop for (modes . command) in efrit-lsp-wrapped-servers
           collect (cons modes (efrit-lsp-eglot--contact command))))

(defun efrit-lsp-eglot--entry-p (entry)
  "Non-nil if `efrit-lsp-register' added ENTRY to `eglot-server-programs'."
  (and (consp entry) (listp (cdr entry))
       (memq #'efrit-lsp-eglot--initialization-options (cdr entry))))

;;;###autoload
(defun efrit-lsp-register (&optional modes)
  "Make Eglot use efrit-lsp for MODES (default `efrit-lsp-major-modes').
Puts one entry at the front of `eglot-server-programs', replacing any
entry an earlier call added, and returns it.  Ahead of it go the
entries for `efrit-lsp-wrapped-servers' (proxy mode), which win for
their modes; MODES leaves those out."
  (interactive)
  (let* ((wrapped (efrit-lsp-eglot--wrapped-modes))
         (entry (cons (cl-remove-if (lambda (mode) (memq mode wrapped))
                                    (or modes efrit-lsp-major-modes))
                      (efrit-lsp-eglot--contact)))
         (proxies (efrit-lsp-eglot--wrapped-entries)))
    (setq eglot-server-programs
          (append proxies
                  (and (car entry) (list entry))
                  (cl-remove-if #'efrit-lsp-eglot--entry-p
                                eglot-server-programs)))
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
                   (append efrit-lsp-major-modes
                           (efrit-lsp-eglot--wrapped-modes))))
      (add-hook (intern (format "%s-hook" mode)) #'eglot-ensure)))
  (when (called-interactively-p 'interactive)
    (message "efrit: registered with Eglot; \
M-x eglot in a source buffer to connect")))

;;;; Transport

(defun efrit-lsp-eglot--capability (server path)
  "SERVER's capability at PATH, a list of keywords, or nil.
Eglot 1.16 and later answer with `eglot-server-capable' for the
current buffer's server; for another server, and in Eglot 1.9, the
capabilities are read from the server object (a private accessor;
this is the one place that uses it)."
  (if (and (fboundp 'eglot-server-capable)
           (eq server (and (eglot-managed-p) (eglot-current-server))))
      (apply #'eglot-server-capable path)
    (let ((value (with-no-warnings (eglot--capabilities server))))
      (dolist (key path value)
        (setq value (and (listp value) (plist-get value key)))))))

(defun efrit-lsp-eglot--current-server ()
  "The Eglot server managing the current buffer, or nil."
  (and (eglot-managed-p) (eglot-current-server)))

(add-hook 'efrit-lsp-server-functions #'efrit-lsp-eglot--current-server)

(cl-defmethod efrit-lsp--send-request ((server eglot-lsp-server) method params
                                       on-result on-error timeout)
  "Send METHOD with PARAMS to the Eglot SERVER; see the generic function.
ON-RESULT, ON-ERROR and TIMEOUT as there."
  (let ((args (list :success-fn on-result
                    :error-fn on-error
                    :timeout-fn (lambda ()
                                  (funcall on-error (efrit-lsp--timeout-error timeout)))
                    :timeout timeout)))
    ;; Only jsonrpc's internal function returns the request id (as every
    ;; jsonrpc.el since Emacs 27 does); without it, no $/cancelRequest.
    (if (fboundp 'jsonrpc--async-request-1)
        (car (apply #'jsonrpc--async-request-1 server method params args))
      (apply #'jsonrpc-async-request server method params args)
      nil)))

(cl-defmethod efrit-lsp--request ((server eglot-lsp-server) method params timeout)
  "Send METHOD with PARAMS to the Eglot SERVER; wait TIMEOUT seconds at most."
  (jsonrpc-request server method params :timeout timeout))

(cl-defmethod efrit-lsp--notify ((server eglot-lsp-server) method params)
  "Send the notification METHOD with PARAMS to the Eglot SERVER."
  (jsonrpc-notify server method params))

(cl-defmethod efrit-lsp--live-p ((server eglot-lsp-server))
  "Return non-nil if the Eglot SERVER is running."
  (jsonrpc-running-p server))

(cl-defmethod efrit-lsp--name ((server eglot-lsp-server))
  "The Eglot SERVER's name."
  (jsonrpc-name server))

(cl-defmethod efrit-lsp--capability ((server eglot-lsp-server) path)
  "The Eglot SERVER's capability at PATH."
  (efrit-lsp-eglot--capability server path))

(cl-defmethod efrit-lsp--document ((_server eglot-lsp-server))
  "The current buffer's TextDocumentIdentifier, as Eglot names it."
  (eglot--TextDocumentIdentifier))

(cl-defmethod efrit-lsp--position ((_server eglot-lsp-server) pos)
  "POS in the current buffer as an LSP position, as Eglot counts it."
  (eglot--pos-to-lsp-position pos))

(cl-defmethod efrit-lsp--flush ((_server eglot-lsp-server))
  "Send Eglot's pending didChange now.
Eglot flushes it only before its own deferred requests."
  (when (and (eglot-managed-p)
             (fboundp 'eglot--signal-textDocument/didChange))
    (eglot--signal-textDocument/didChange)))

(cl-defmethod efrit-lsp--code-actions ((_server eglot-lsp-server))
  "Eglot's code action menu for the region or point."
  (call-interactively #'eglot-code-actions))

;;;; Notifications and commands from Eglot

(cl-defmethod eglot-handle-notification
  (server (_method (eql efrit/stream))
          &key jobId sessionId streamId kind text &allow-other-keys)
  "Route efrit/stream from SERVER: a job's text deltas and notes.
JOBID, SESSIONID, STREAMID, KIND and TEXT are the notification's
parameters."
  (efrit-lsp--on-stream server jobId sessionId streamId kind text))

;; Eglot runs the command of a picked code action with a synchronous
;; request: Emacs would wait for the model (Eglot 1.9 gives up after ten
;; seconds, the Eglot of Emacs 30 never).  The efrit ones run
;; asynchronously instead.  Eglot 1.9 runs a command through
;; `eglot-execute-command', Eglot 1.16 and later through `eglot-execute'.

(defun efrit-lsp-eglot--efrit-command (action)
  "Return the efrit command in ACTION as (:command NAME :arguments ARGS), or nil.
ACTION is what Eglot executes: a Command, ExecuteCommandParams or
CodeAction (without an edit of its own) as a plist."
  (let ((command (plist-get action :command)))
    (cond ((member command '("efrit.runAction" "efrit.applyJob"))
           (list :command command :arguments (or (plist-get action :arguments) [])))
          ((and (consp command) (not (plist-get action :edit)))
           (efrit-lsp-eglot--efrit-command command)))))

(when (fboundp 'eglot-execute)
  (cl-defmethod eglot-execute :around (server action)
    "Run an efrit command of ACTION on SERVER without blocking Emacs."
    (let ((efrit (and efrit-lsp-async-code-actions
                      (efrit-lsp-eglot--efrit-command action))))
      (if (not efrit)
          (cl-call-next-method)
        (let ((arguments (plist-get efrit :arguments)))
          (efrit-lsp--execute server (plist-get efrit :command) arguments
                              (efrit-lsp--explain-p arguments)))))))

(cl-defmethod eglot-execute-command
  (server (_command (eql efrit.runAction)) arguments)
  "Run efrit.runAction with ARGUMENTS on SERVER without blocking Emacs."
  (if efrit-lsp-async-code-actions
      (efrit-lsp--execute server "efrit.runAction" arguments
                          (efrit-lsp--explain-p arguments))
    (cl-call-next-method)))

(cl-defmethod eglot-execute-command
  (server (_command (eql efrit.applyJob)) arguments)
  "Run efrit.applyJob with ARGUMENTS on SERVER without blocking Emacs."
  (if efrit-lsp-async-code-actions
      (efrit-lsp--execute server "efrit.applyJob" arguments)
    (cl-call-next-method)))

(provide 'efrit-lsp-eglot)
;;; efrit-lsp-eglot.el ends here
