;;; efrit-lsp-mode.el --- efrit-lsp over lsp-mode  -*- lexical-binding: t -*-

;; Copyright (C) 2025 The efrit-lsp authors

;; Author: The efrit-lsp authors
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The lsp-mode backend of efrit-lsp.el.  Loading it registers efrit-lsp
;; with lsp-mode as an add-on client (server id `efrit-lsp'): it runs
;; beside the buffer's usual language server, in the modes of
;; `efrit-lsp-major-modes', started with `efrit-lsp-server-command'.
;;
;;   (require 'efrit-lsp-mode)
;;   (global-set-key (kbd "C-c e") efrit-lsp-command-map)
;;
;; then M-x lsp.  The server's efrit/stream notifications are handled
;; (no "Unknown notification" warnings), the efrit code actions picked
;; from `lsp-execute-code-action' run asynchronously, and every
;; efrit-lsp command (chat, do, explain, status, cancel, ghost text)
;; works as it does over Eglot, through the transport methods below.
;; lsp-mode is not a dependency of the efrit-lsp package: install it to
;; use this file (Debian: elpa-lsp-mode).

;;; Code:

(require 'cl-lib)
(require 'lsp-mode)
(require 'efrit-lsp)

;;;; JSON as the rest of efrit-lsp reads it

(defun efrit-lsp-mode--plist (value)
  "VALUE, as lsp-mode read it, with its JSON objects as plists.
lsp-mode reads objects as hash tables (or plists with
`lsp-use-plists'); efrit-lsp.el reads plists with keyword keys, as
Eglot gives them.  Arrays stay vectors."
  (cond ((hash-table-p value)
         (let (plist)
           (maphash (lambda (key item)
                      (push (intern (concat ":" key)) plist)
                      (push (efrit-lsp-mode--plist item) plist))
                    value)
           (nreverse plist)))
        ((vectorp value) (vconcat (mapcar #'efrit-lsp-mode--plist value)))
        ((and (consp value) (keywordp (car value)))
         (cl-loop for (key item) on value by #'cddr
                  append (list key (efrit-lsp-mode--plist item))))
        (t value)))

(defun efrit-lsp-mode--method (method)
  "METHOD, a keyword such as :efrit/chat, as lsp-mode names it."
  (substring (symbol-name method) 1))

;;;; Transport

(defun efrit-lsp-mode--efrit-workspace-p (workspace)
  "Non-nil if WORKSPACE is a server lsp-mode started from our client."
  (eq (lsp--client-server-id (lsp--workspace-client workspace)) 'efrit-lsp))

(defun efrit-lsp-mode--current-server ()
  "Return the current buffer's lsp-mode server: the efrit one, if any."
  (when (bound-and-true-p lsp-mode)
    (let ((workspaces (lsp-workspaces)))
      (or (cl-find-if #'efrit-lsp-mode--efrit-workspace-p workspaces)
          (car workspaces)))))

(add-hook 'efrit-lsp-server-functions #'efrit-lsp-mode--current-server)

(cl-defmethod efrit-lsp--send-request ((server lsp--workspace) method params
                                       on-result on-error timeout)
  "Send METHOD with PARAMS to the lsp-mode SERVER; see the generic function.
ON-RESULT, ON-ERROR and TIMEOUT as there.  The request goes to SERVER
only, not to every server of the buffer; lsp-mode's own timeout
applies to its synchronous requests only, so TIMEOUT is kept here."
  (let* ((answered nil)
         (timer nil)
         (answer (lambda (fn value)
                   (unless answered
                     (setq answered t)
                     (when timer (cancel-timer timer))
                     (funcall fn value))))
         (body (with-lsp-workspace server
                 (lsp-request-async
                  (efrit-lsp-mode--method method) params
                  (lambda (results)
                    (funcall answer on-result
                             (efrit-lsp-mode--plist (cdr (car results)))))
                  :error-handler
                  (lambda (error)
                    (funcall answer on-error (efrit-lsp-mode--plist error)))
                  :mode 'detached
                  :no-merge t)))
         (id (plist-get body :id)))
    (when timeout
      (setq timer
            (run-with-timer
             timeout nil
             (lambda ()
               ;; A late answer finds no handler and is dropped.
               (remhash id (lsp--client-response-handlers
                            (lsp--workspace-client server)))
               (funcall answer on-error (efrit-lsp--timeout-error timeout))))))
    id))

(cl-defmethod efrit-lsp--request ((server lsp--workspace) method params timeout)
  "Send METHOD with PARAMS to the lsp-mode SERVER; wait TIMEOUT seconds at most."
  (let ((lsp-response-timeout timeout))
    (efrit-lsp-mode--plist
     (with-lsp-workspace server
       (lsp-request (efrit-lsp-mode--method method) params)))))

(cl-defmethod efrit-lsp--notify ((server lsp--workspace) method params)
  "Send the notification METHOD with PARAMS to the lsp-mode SERVER."
  (with-lsp-workspace server
    (lsp-notify (efrit-lsp-mode--method method) params)))

(cl-defmethod efrit-lsp--live-p ((server lsp--workspace))
  "Return non-nil if the lsp-mode SERVER is running and initialized."
  (and (eq (lsp--workspace-status server) 'initialized)
       (process-live-p (lsp--workspace-proc server))))

(cl-defmethod efrit-lsp--name ((server lsp--workspace))
  "Return the lsp-mode SERVER's name, as in `lsp-describe-session'."
  (lsp--workspace-print server))

(cl-defmethod efrit-lsp--capability ((server lsp--workspace) path)
  "The lsp-mode SERVER's capability at PATH."
  (let ((value (efrit-lsp-mode--plist
                (lsp--workspace-server-capabilities server))))
    (dolist (key path value)
      (setq value (and (listp value) (plist-get value key))))))

(cl-defmethod efrit-lsp--document ((_server lsp--workspace))
  "The current buffer's TextDocumentIdentifier, as lsp-mode names it."
  (lsp--text-document-identifier))

(cl-defmethod efrit-lsp--position ((_server lsp--workspace) pos)
  "POS in the current buffer as an LSP position, as lsp-mode counts it."
  (efrit-lsp-mode--plist (lsp-point-to-position pos)))

(cl-defmethod efrit-lsp--flush ((_server lsp--workspace))
  "Send lsp-mode's delayed didChange notifications now."
  (lsp--flush-delayed-changes))

(cl-defmethod efrit-lsp--prepare-created-files ((_server lsp--workspace) files)
  "Make the folders of FILES, new files of a change the user accepted.
lsp-mode 8.0 applies a change's text edits before its file operations:
it visits a file to be created before the file exists, and the buffer
of a file whose folder does not exist is read-only, so the edit fails.
In an existing folder the buffer takes the text, and the file is
created after it."
  (dolist (file files)
    (make-directory (file-name-directory file) t)))

(cl-defmethod efrit-lsp--code-actions ((_server lsp--workspace))
  "Show the code actions of lsp-mode for the region or point."
  (call-interactively #'lsp-execute-code-action))

;;;; Notifications and commands from lsp-mode

(defun efrit-lsp-mode--on-stream (workspace params)
  "Route the efrit/stream notification PARAMS from WORKSPACE."
  (let ((note (efrit-lsp-mode--plist params)))
    (efrit-lsp--on-stream workspace (plist-get note :jobId)
                          (plist-get note :sessionId)
                          (plist-get note :streamId)
                          (plist-get note :kind) (plist-get note :text))))

(defun efrit-lsp-mode--run-command (command)
  "Run the efrit COMMAND of a picked code action, without blocking Emacs.
COMMAND is the action's LSP Command, as lsp-mode read it."
  (let* ((command (efrit-lsp-mode--plist command))
         (name (plist-get command :command))
         (arguments (or (plist-get command :arguments) [])))
    (efrit-lsp--execute (efrit-lsp--server) name arguments
                        (efrit-lsp--explain-p arguments))))

(defun efrit-lsp-mode--initialization-options ()
  "Return `efrit-lsp-initialization-options' for lsp-mode's initialize."
  (or efrit-lsp-initialization-options (make-hash-table)))

(defun efrit-lsp-mode--handlers (alist)
  "A hash table of ALIST's (NAME . FUNCTION) pairs, as lsp-mode's clients want."
  (let ((table (make-hash-table :test 'equal)))
    (pcase-dolist (`(,name . ,function) alist)
      (puthash name function table))
    table))

(defun efrit-lsp-mode-register ()
  "Register efrit-lsp with lsp-mode as the add-on client `efrit-lsp'.
Loading this file does it; the command, the modes and the settings are
read when a server starts, so changing them needs no new registration."
  (lsp-register-client
   (make-lsp-client
    :new-connection (lsp-stdio-connection
                     (lambda () efrit-lsp-server-command))
    :activation-fn (lambda (_file-name mode)
                     (memq mode efrit-lsp-major-modes))
    :add-on? t
    :server-id 'efrit-lsp
    :initialization-options #'efrit-lsp-mode--initialization-options
    :notification-handlers
    (efrit-lsp-mode--handlers
     `(("efrit/stream" . efrit-lsp-mode--on-stream)))
    :action-handlers
    (efrit-lsp-mode--handlers
     `(("efrit.runAction" . efrit-lsp-mode--run-command)
       ("efrit.applyJob" . efrit-lsp-mode--run-command))))))

(efrit-lsp-mode-register)

(provide 'efrit-lsp-mode)
;;; efrit-lsp-mode.el ends here
