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
(require 'efrit-lsp-review)

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
    "Run an efrit command of ACTION on SERVER without blocking Emacs.
A resolved efrit code action whose edit creates a file (\"Write tests\")
is applied here too, as `eglot-handle-request' applies such an edit:
Eglot applies text edits only."
    (let ((efrit (and efrit-lsp-async-code-actions
                      (efrit-lsp-eglot--efrit-command action)))
          (edit (plist-get action :edit)))
      (cond
       (efrit
        (let ((arguments (plist-get efrit :arguments)))
          (efrit-lsp--execute server (plist-get efrit :command) arguments
                              (efrit-lsp--explain-p arguments))))
       ((and edit (efrit-lsp-eglot--efrit-contact-p server)
             (efrit-lsp-eglot--file-operations-p edit))
        (let ((result (efrit-lsp-eglot--apply-unreviewed
                       (plist-get action :title) edit)))
          (unless (eq (plist-get result :applied) t)
            (user-error "efrit: %s" (plist-get result :failureReason))))
        (when (plist-get action :command)
          (eglot-execute server (plist-get action :command))))
       (t (cl-call-next-method))))))

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

;;;; Changes the server sends: files created, renamed, deleted; reviewed changes
;;
;; Eglot 1.9 declares no `resourceOperations' and applies text edits
;; only; it also asks y/n before editing a file no buffer visits, even
;; with `eglot-confirm-server-initiated-edits' nil.  For efrit-lsp's
;; servers, this file declares the file operations and applies what
;; Eglot cannot: a change the user accepted in the review buffer
;; (without asking again), and any change that creates, renames or
;; deletes a file (after asking).  Every other edit goes to Eglot as
;; before.

(defun efrit-lsp-eglot--efrit-contact-p (server)
  "Non-nil if Eglot started SERVER from an efrit-lsp contact.
Known before the initialize request too, unlike its capabilities: the
contact is the one `efrit-lsp-register' made (with or without a class
given by \[universal-argument] \[eglot])."
  (eq (plist-get (with-no-warnings (eglot--saved-initargs server))
                 :initializationOptions)
      #'efrit-lsp-eglot--initialization-options))

(defun efrit-lsp-eglot--plist-with (plist key value)
  "A copy of PLIST with KEY set to VALUE (PLIST itself is not changed)."
  (append (list key value)
          (cl-loop for (k v) on plist by #'cddr
                   unless (eq k key) append (list k v))))

(cl-defmethod eglot-client-capabilities :around (server)
  "Eglot's capabilities, with what efrit-lsp needs that Eglot does not declare.
File operations in workspace edits, and `window.showMessage': Eglot
answers window/showMessageRequest (asking with `completing-read') but
does not say so, and efrit-lsp asks before running `agent.commands'
checks only where the client says it can.  For other servers than
efrit-lsp's (SERVER), Eglot's own."
  (let ((capabilities (cl-call-next-method)))
    (if (not (efrit-lsp-eglot--efrit-contact-p server))
        capabilities
      (let* ((workspace (plist-get capabilities :workspace))
             (edit (efrit-lsp-eglot--plist-with
                    (plist-get workspace :workspaceEdit)
                    :resourceOperations ["create" "rename" "delete"]))
             (window (efrit-lsp-eglot--plist-with
                      (plist-get capabilities :window)
                      :showMessage '(:messageActionItem (:additionalPropertiesSupport :json-false)))))
        (efrit-lsp-eglot--plist-with
         (efrit-lsp-eglot--plist-with
          capabilities :workspace
          (efrit-lsp-eglot--plist-with workspace :workspaceEdit edit))
         :window window)))))

(define-error 'efrit-lsp-eglot-edit-refused "The edit cannot be applied")

(defun efrit-lsp-eglot--refuse (format-string &rest args)
  "Refuse the edit, saying why with FORMAT-STRING and ARGS."
  (signal 'efrit-lsp-eglot-edit-refused (list (apply #'format format-string args))))

(defun efrit-lsp-eglot--check-changes (changes)
  "Refuse an edit unless each of its parts can be applied in turn.
CHANGES are those parts, as `efrit-lsp-workspace-edit-changes' gives
them.  Nothing is changed here, so a refused edit leaves every file
as it was."
  (let ((exists (make-hash-table :test 'equal)))
    (cl-flet ((exists-p (file)
                (let ((known (gethash file exists 'unknown)))
                  (if (eq known 'unknown)
                      (or (file-exists-p file) (and (find-buffer-visiting file) t))
                    known)))
              (flag (options key) (eq (plist-get options key) t)))
      (pcase-dolist (`(,kind ,uri ,data ,extra) changes)
        (let ((file (eglot--uri-to-path uri)))
          (pcase kind
            ('edit
             (if extra
                 (let ((buffer (find-buffer-visiting file)))
                   (unless (and buffer
                                (equal extra (buffer-local-value
                                              'eglot--versioned-identifier buffer)))
                     (efrit-lsp-eglot--refuse "%s changed since the server made the edit"
                                              file)))
               (unless (exists-p file)
                 (efrit-lsp-eglot--refuse "%s does not exist" file))))
            ('create
             (when (and (exists-p file) (not (flag extra :overwrite))
                        (not (flag extra :ignoreIfExists)))
               (efrit-lsp-eglot--refuse "%s already exists" file))
             (puthash file t exists))
            ('rename
             (let ((new (eglot--uri-to-path data)))
               (unless (exists-p file)
                 (efrit-lsp-eglot--refuse "%s does not exist" file))
               (when (and (exists-p new) (not (flag extra :overwrite))
                          (not (flag extra :ignoreIfExists)))
                 (efrit-lsp-eglot--refuse "%s already exists" new))
               (puthash file nil exists)
               (puthash new t exists)))
            ('delete
             (unless (or (exists-p file) (flag extra :ignoreIfNotExists))
               (efrit-lsp-eglot--refuse "%s does not exist" file))
             (puthash file nil exists))))))))

(defun efrit-lsp-eglot--apply-changes (changes)
  "Apply the parts of an edit in order, once checked.
CHANGES are those parts, as `efrit-lsp-eglot--check-changes' checked
them.  Text edits go through Eglot, one undo step per buffer; a file no
buffer visits is visited first, and saved at the end (see
`efrit-lsp-save-opened-files')."
  (let ((opened nil))
    (cl-flet ((flag (options key) (eq (plist-get options key) t)))
      (pcase-dolist (`(,kind ,uri ,data ,extra) changes)
        (let ((file (eglot--uri-to-path uri)))
          (pcase kind
            ('edit
             (with-current-buffer (or (find-buffer-visiting file)
                                      (progn (push file opened)
                                             (find-file-noselect file)))
               (eglot--apply-text-edits data extra)))
            ('create
             (unless (and (file-exists-p file) (flag extra :ignoreIfExists))
               (make-directory (file-name-directory file) t)
               (write-region "" nil file nil 'silent)))
            ('rename
             (let ((new (eglot--uri-to-path data))
                   (buffer (find-buffer-visiting file)))
               (unless (and (file-exists-p new) (flag extra :ignoreIfExists))
                 (make-directory (file-name-directory new) t)
                 (rename-file file new (flag extra :overwrite))
                 (when buffer
                   (with-current-buffer buffer (set-visited-file-name new t t))))))
            ('delete
             (let ((buffer (find-buffer-visiting file)))
               (cond ((file-directory-p file)
                      (delete-directory file (flag extra :recursive) t))
                     ((file-exists-p file) (delete-file file t)))
               (when buffer
                 (with-current-buffer buffer (set-buffer-modified-p nil))
                 (kill-buffer buffer))))))))
    (efrit-lsp--save-opened opened)))

(defun efrit-lsp-eglot--apply-edit (edit)
  "Apply the WorkspaceEdit EDIT, all of it or nothing; return the applyEdit result."
  (let ((changes (efrit-lsp-workspace-edit-changes edit)))
    (condition-case err
        (progn
          (efrit-lsp-eglot--check-changes changes)
          (efrit-lsp-eglot--apply-changes changes)
          (list :applied t))
      (efrit-lsp-eglot-edit-refused
       (list :applied :json-false :failureReason (cadr err)))
      (error
       (list :applied :json-false :failureReason (error-message-string err))))))

(defun efrit-lsp-eglot--file-operations-p (edit)
  "Non-nil if EDIT, a WorkspaceEdit, has file operations.
That is: it would create, rename or delete a file."
  (cl-find-if-not (lambda (change) (eq (car change) 'edit))
                  (efrit-lsp-workspace-edit-changes edit)))

(defun efrit-lsp-eglot--apply-unreviewed (label edit)
  "Ask, then apply EDIT, a change with file operations.
LABEL says what it is.  Return the applyEdit result."
  (if (y-or-n-p (format "[efrit] %s:\n  %s\nProceed? "
                        (or label "The server wants to change files")
                        (mapconcat #'efrit-lsp-eglot--describe-change
                                   (efrit-lsp-workspace-edit-changes edit)
                                   "\n  ")))
      (efrit-lsp-eglot--apply-edit edit)
    (list :applied :json-false :failureReason "The user declined the change.")))

(defun efrit-lsp-eglot--describe-change (change)
  "One line saying what CHANGE does.
CHANGE as `efrit-lsp-workspace-edit-changes' gives it."
  (pcase-let ((`(,kind ,uri ,data ,_) change))
    (pcase kind
      ('rename (format "rename %s to %s" (eglot--uri-to-path uri) (eglot--uri-to-path data)))
      (_ (format "%s %s" kind (eglot--uri-to-path uri))))))

(cl-defmethod eglot-handle-request :around
  (server (_method (eql workspace/applyEdit)) &rest params)
  "Apply a reviewed change from SERVER, or one with file operations.
PARAMS are the request's: :label and :edit.  A change the user accepted
in the review buffer is applied without asking again; one that
creates, renames or deletes files (which Eglot 1.9 cannot apply) after
asking; any other edit as Eglot applies it."
  (let ((edit (plist-get params :edit)))
    (cond ((efrit-lsp-reviewed-edit-p server edit)
           (efrit-lsp-eglot--apply-edit edit))
          ((and (efrit-lsp-eglot--efrit-contact-p server)
                (efrit-lsp-eglot--file-operations-p edit))
           (efrit-lsp-eglot--apply-unreviewed (plist-get params :label) edit))
          (t (cl-call-next-method)))))

(provide 'efrit-lsp-eglot)
;;; efrit-lsp-eglot.el ends here
