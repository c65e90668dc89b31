;;; efrit-ghost-test.el --- ghost text (inline completion) in a real, headless Emacs  -*- lexical-binding: t -*-

;; Run by test/clients/emacs.test.ts:
;;   emacs --batch -Q -l test/clients/emacs/efrit-ghost-test.el
;; with the environment of efrit-test.el, EFRIT_TEST_FILE a Python file.
;; Batch Emacs has no command loop: `efrit-test-command' runs a command
;; the way it would (pre-command-hook, the command, post-command-hook),
;; and idle timers never fire, so a test runs the ghost mode's timer
;; itself once it is armed.  One ert test per behaviour, each in its own
;; copy of the fixture; one "EFRIT-ERT <json>" line per test.

;;; Code:

(load (expand-file-name "efrit-test-support.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)

(defun efrit-test-command (command &optional event)
  "Run COMMAND as the command loop would, EVENT being the key typed."
  (let ((this-command command)
        (last-command-event (or event last-command-event)))
    (run-hooks 'pre-command-hook)
    (call-interactively command)
    (run-hooks 'post-command-hook)
    (setq last-command command)))

(defun efrit-test-type (string)
  "Type STRING, one `self-insert-command' per character."
  (mapc (lambda (char) (efrit-test-command #'self-insert-command char)) string))

(defun efrit-test-ghost ()
  "What shows as ghost text in the current buffer: a plist, or nil.
:text is the overlay's after-string, :atPoint whether the overlay is at
point, :cursor whether the cursor stays before it, :tab what TAB runs."
  (let ((overlays (cl-remove-if-not (lambda (o) (overlay-get o 'efrit-lsp-ghost))
                                    (overlays-in (point-min) (point-max)))))
    (when (cdr overlays) (efrit-test-fail "%d ghost overlays" (length overlays)))
    (when-let ((overlay (car overlays)))
      (let ((shown (overlay-get overlay 'after-string)))
        (list :text (substring-no-properties shown)
              :atPoint (and (= (overlay-start overlay) (point)) (= (overlay-end overlay) (point)))
              :cursor (and (get-text-property 0 'cursor shown) t)
              :face (get-text-property 0 'face shown)
              :api (efrit-lsp-ghost-text)
              :tab (key-binding (kbd "TAB")))))))

(defun efrit-test-shown (text)
  "What `efrit-test-ghost' returns while TEXT shows as it should."
  (list :text text :atPoint t :cursor t :face 'efrit-lsp-ghost :api text :tab 'efrit-lsp-ghost-accept))

(defun efrit-test-completion-status ()
  "The server's completion counters (efrit/status)."
  (plist-get (efrit-lsp-status) :completion))

(efrit-test-configure '(python-mode))
(efrit-lsp-setup)

(defun efrit-test-visit (name)
  "Visit a fresh copy of the fixture as NAME in ghost mode, displayed; return it.
Displayed, as the buffer one types in is: the idle request asks only
for the buffer of the selected window."
  (let ((buffer (efrit-test-eglot-visit name 'python-mode)))
    (switch-to-buffer buffer)
    (efrit-lsp-ghost-mode 1)
    buffer))

(defun efrit-test-at-order-total ()
  "Move point to the unfinished return of `order_total'."
  (goto-char (point-min))
  (re-search-forward "^def order_total.*\n.*\n    return "))

(defun efrit-test-ask ()
  "Ask for a suggestion at point, as C-c e g does, and wait for it to show."
  (efrit-test-command #'efrit-lsp-ghost-complete)
  (efrit-test-wait #'efrit-test-ghost "the suggestion" 60))

(ert-deftest efrit-ghost-mode-watches-commands-and-leaves-tab-alone ()
  "The mode hooks post-command; TAB indents while no suggestion shows."
  (with-current-buffer (efrit-test-visit "mode.py")
    (should (memq #'efrit-lsp--ghost-post-command post-command-hook))
    (efrit-test-at-order-total)
    (should (eq (key-binding (kbd "TAB")) 'indent-for-tab-command))))

(ert-deftest efrit-ghost-complete-shows-the-cleaned-suggestion-at-point ()
  "The fenced echo the model writes comes back cleaned, after point, the buffer untouched."
  (with-current-buffer (efrit-test-visit "shown.py")
    (efrit-test-at-order-total)
    (let ((before (point)))
      (efrit-test-ask)
      (should (equal (efrit-test-ghost) (efrit-test-shown "order.unit_price * order.quantity")))
      (should (= (point) before))
      (should-not (string-match-p "unit_price \\* order" (efrit-test-buffer-text (current-buffer)))))))

(ert-deftest efrit-ghost-a-mismatch-clears-it-and-the-idle-request-brings-it-back ()
  "Typing what does not match clears it and arms the idle request, which shows it again."
  (with-current-buffer (efrit-test-visit "mismatch.py")
    (efrit-test-at-order-total)
    (efrit-test-ask)
    (efrit-test-type "s")
    (should-not (efrit-test-ghost))
    (should (eq (key-binding (kbd "TAB")) 'indent-for-tab-command))
    (should (memq efrit-lsp--ghost-timer timer-idle-list))
    (efrit-test-command #'delete-backward-char ?\d)
    ;; What the idle timer does, at the same spot (the server's cache answers).
    (let ((timer efrit-lsp--ghost-timer))
      (should (timerp timer))
      (cancel-timer timer)
      (apply (timer--function timer) (timer--args timer)))
    (efrit-test-wait #'efrit-test-ghost "the automatic suggestion" 60)
    (should (equal (efrit-test-ghost) (efrit-test-shown "order.unit_price * order.quantity")))))

(ert-deftest efrit-ghost-typing-its-beginning-keeps-the-rest-moving-clears-it ()
  "Typing the suggestion's beginning leaves the rest; moving point clears it for good."
  (with-current-buffer (efrit-test-visit "typed.py")
    (efrit-test-at-order-total)
    (efrit-test-ask)
    (efrit-test-type "or")
    (should (equal (efrit-test-ghost) (efrit-test-shown "der.unit_price * order.quantity")))
    (efrit-test-command #'backward-char)
    (should-not (efrit-test-ghost))
    (efrit-test-command #'forward-char)
    (should-not (efrit-test-ghost))))

(ert-deftest efrit-ghost-tab-accepts-it-and-tells-the-server ()
  "TAB inserts the suggestion, point after it; the server counts it accepted."
  (with-current-buffer (efrit-test-visit "accept.py")
    (let ((accepted (plist-get (efrit-test-completion-status) :accepted)))
      (efrit-test-at-order-total)
      (efrit-test-type "or")
      (efrit-test-ask)
      (should (equal (efrit-test-ghost) (efrit-test-shown "der.unit_price * order.quantity")))
      (efrit-test-command (key-binding (kbd "TAB")) ?\t)
      (should-not (efrit-test-ghost))
      (should (equal (buffer-substring-no-properties (line-beginning-position) (line-end-position))
                     "    return order.unit_price * order.quantity"))
      (should (eolp))
      (efrit-test-check-sync "AFTER-ACCEPT")
      (efrit-test-wait (lambda () (eql (plist-get (efrit-test-completion-status) :accepted) (1+ accepted)))
                       "completion.accepted in efrit/status"))))

(ert-deftest efrit-ghost-an-answer-that-comes-after-point-moved-is-dropped ()
  "The fake holds the answer until point has moved; it never shows."
  (with-current-buffer (efrit-test-visit "stale.py")
    (goto-char (point-min))
    (re-search-forward "^def with_tax.*\n    return ")
    (efrit-test-command #'efrit-lsp-ghost-complete)
    (should efrit-lsp--ghost-pending)
    (efrit-test-command #'backward-char)
    (efrit-test-signal "moved-away")
    (efrit-test-wait (lambda () (null efrit-lsp--ghost-pending)) "the slow answer" 60)
    (should-not (efrit-test-ghost))))

(ert-deftest efrit-ghost-c-g-dismisses-it-and-turning-the-mode-off-unhooks ()
  "C-g clears a suggestion; without the mode, no post-command hook is left."
  (with-current-buffer (efrit-test-visit "dismiss.py")
    (efrit-test-at-order-total)
    (efrit-test-ask)
    (efrit-test-command (key-binding (kbd "C-g")))
    (should-not (efrit-test-ghost))
    (efrit-lsp-ghost-mode -1)
    (should-not (memq #'efrit-lsp--ghost-post-command post-command-hook))
    (efrit-test-check-sync "FINAL")))

(efrit-test-run-ert)

;;; efrit-ghost-test.el ends here
