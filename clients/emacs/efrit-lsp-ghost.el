;;; efrit-lsp-ghost.el --- Ghost text (inline completion) from efrit-lsp  -*- lexical-binding: t -*-

;; Copyright (C) 2025 The efrit-lsp authors

;; Author: The efrit-lsp authors
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `efrit-lsp-ghost-mode' shows the server's suggestion for the text at
;; point in grey after the cursor while you type (LSP 3.18's
;; textDocument/inlineCompletion), and `efrit-lsp-ghost-complete' asks
;; at once.  Loaded with efrit-lsp.el; works over Eglot and lsp-mode
;; alike, through efrit-lsp.el's transport functions.

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'subr-x)
(require 'efrit-lsp)

(defcustom efrit-lsp-ghost-idle-delay 0.2
  "Seconds of idle time after an edit before `efrit-lsp-ghost-mode' asks.
The server waits a little more itself (it debounces automatic
requests), and answers an older request empty when a newer one for the
same file comes, so a short delay does not cost a model call per
keystroke."
  :type 'number
  :group 'efrit-lsp)

(defcustom efrit-lsp-ghost-timeout 30
  "Seconds to wait for a suggestion before giving up on it."
  :type 'number
  :group 'efrit-lsp)

(defface efrit-lsp-ghost '((t :inherit shadow))
  "Face of the suggestion shown as ghost text after point."
  :group 'efrit-lsp)

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
  "Return non-nil if SERVER has inline completion."
  (not (efrit-lsp--false-p
        (efrit-lsp--capability server '(:inlineCompletionProvider)))))

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
  "Show TEXT from SERVER as ghost text at point; run COMMAND on accepting."
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
  (efrit-lsp--flush server)
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
    (efrit-lsp--send-request
     server :textDocument/inlineCompletion
     (list :textDocument (efrit-lsp--document server)
           :position (efrit-lsp--position server (point))
           :context (list :triggerKind trigger))
     (lambda (result)
       (when (buffer-live-p buffer)
         (with-current-buffer buffer
           (when (eql id efrit-lsp--ghost-pending)
             (setq efrit-lsp--ghost-pending nil)
             (efrit-lsp--ghost-answer server result tick point invoked)))))
     (lambda (error)
       (funcall failed (if (equal (efrit-lsp--error-reason error) "timeout")
                           "no answer in time"
                         (efrit-lsp--error-message error))))
     efrit-lsp-ghost-timeout)
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
      (let ((server (efrit-lsp--buffer-server)))
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
      (when (and command (efrit-lsp--live-p server))
        (efrit-lsp--flush server)
        (efrit-lsp--send-request
         server :workspace/executeCommand
         (append (list :command (plist-get command :command))
                 (and (plist-get command :arguments)
                      (list :arguments (plist-get command :arguments))))
         #'ignore
         (lambda (error)
           (unless (equal (efrit-lsp--error-reason error) "timeout")
             (message "efrit: %s: %s" (plist-get command :command)
                      (efrit-lsp--error-message error))))
         efrit-lsp-ghost-timeout)))))

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

(provide 'efrit-lsp-ghost)
;;; efrit-lsp-ghost.el ends here
