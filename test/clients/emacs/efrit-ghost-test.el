;;; efrit-ghost-test.el --- ghost text (inline completion) in a real, headless Emacs  -*- lexical-binding: t -*-

;; Run by test/clients/emacs.test.ts:
;;   emacs --batch -Q -l test/clients/emacs/efrit-ghost-test.el
;; with the environment:
;;   EFRIT_TEST_CLIENT_DIR  the folder of efrit-lsp.el
;;   EFRIT_TEST_SERVER      the server command, as a JSON array of strings
;;   EFRIT_TEST_FILE        the Python file to open (inside a temp project)
;;   EFRIT_TEST_EVENTS_LOG  where to write Eglot's JSON-RPC log on failure
;; Batch Emacs has no command loop: `efrit-test-command' runs a command
;; the way it would (pre-command-hook, the command, post-command-hook),
;; and idle timers never fire, so the test runs the ghost mode's timer
;; itself once it is armed.  Prints "EFRIT-TEST <key> <json>" lines on
;; stdout; exits 0 when every step passed.

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

(defun efrit-test-completion-status ()
  "The server's completion counters (efrit/status)."
  (plist-get (efrit-lsp-status) :completion))

(efrit-test-configure '(python-mode))

(condition-case err
    (let ((file (getenv "EFRIT_TEST_FILE")))
      (efrit-lsp-setup)
      ;; Displayed, as the buffer one types in is: the idle request asks
      ;; only for the buffer of the selected window.
      (switch-to-buffer (find-file-noselect file))
      (unless (eq major-mode 'python-mode) (efrit-test-fail "major mode is %s" major-mode))
      (apply #'eglot (eglot--guess-contact))
      (efrit-test-wait (lambda () (and eglot--managed-mode (eglot-current-server))) "the connection" 15)
      (setq efrit-test-server (eglot-current-server))
      (efrit-test-emit "CONNECTED" (list :mode (symbol-name major-mode)
                                         :server (plist-get (eglot--server-info efrit-test-server) :name)))

      (efrit-lsp-ghost-mode 1)
      (efrit-test-emit "GHOST-MODE" (and efrit-lsp-ghost-mode (memq #'efrit-lsp--ghost-post-command post-command-hook) t))

      ;; 1. An explicit request at the unfinished return: the fenced echo
      ;; the fake writes comes back cleaned, and shows at point.
      (goto-char (point-min))
      (re-search-forward "^def order_total.*\n.*\n    return ")
      (efrit-test-emit "TAB-WITHOUT-SUGGESTION" (key-binding (kbd "TAB")))
      (let ((before (point)))
        (efrit-test-command #'efrit-lsp-ghost-complete)
        (efrit-test-wait #'efrit-test-ghost "the suggestion" 15)
        (efrit-test-emit "SHOWN" (efrit-test-ghost))
        (efrit-test-emit "SHOWN-POINT-UNMOVED" (= (point) before)))
      (efrit-test-emit "SHOWN-BUFFER-UNCHANGED"
                       (not (string-match-p "unit_price \\* order" (efrit-test-buffer-text (current-buffer)))))

      ;; 2. Typing what does not match clears it, and arms the idle request.
      (efrit-test-type "s")
      (efrit-test-emit "AFTER-MISMATCH" (efrit-test-ghost))
      (efrit-test-emit "TAB-AFTER-MISMATCH" (key-binding (kbd "TAB")))
      (efrit-test-emit "TIMER-ARMED" (and (timerp efrit-lsp--ghost-timer) (memq efrit-lsp--ghost-timer timer-idle-list) t))

      ;; 3. Backspace, then what the idle timer does: an automatic request,
      ;; at the same spot, so the server answers it from its cache.
      (efrit-test-command #'delete-backward-char ?\d)
      (let ((timer efrit-lsp--ghost-timer))
        (unless (timerp timer) (efrit-test-fail "no idle timer after backspace"))
        (cancel-timer timer)
        (apply (timer--function timer) (timer--args timer)))
      (efrit-test-wait #'efrit-test-ghost "the automatic suggestion" 15)
      (efrit-test-emit "AUTOMATIC" (efrit-test-ghost))

      ;; 4. Typing its beginning leaves the rest; moving point clears it.
      (efrit-test-type "or")
      (efrit-test-emit "TYPED-AHEAD" (efrit-test-ghost))
      (efrit-test-command #'backward-char)
      (efrit-test-emit "AFTER-MOVE" (efrit-test-ghost))
      (efrit-test-command #'forward-char)
      (efrit-test-emit "AFTER-MOVE-BACK" (efrit-test-ghost))

      ;; 5. Asked again after "or": the server's rest of its suggestion;
      ;; TAB accepts it, and the server hears of it.
      (efrit-test-command #'efrit-lsp-ghost-complete)
      (efrit-test-wait #'efrit-test-ghost "the rest of the suggestion" 15)
      (efrit-test-emit "REST" (efrit-test-ghost))
      (efrit-test-command (key-binding (kbd "TAB")) ?\t)
      (efrit-test-emit "AFTER-ACCEPT" (efrit-test-ghost))
      (efrit-test-emit "ACCEPTED-LINE" (buffer-substring-no-properties (line-beginning-position) (line-end-position)))
      (efrit-test-emit "POINT-AFTER-ACCEPT-AT-EOL" (eolp))
      (efrit-test-check-sync "AFTER-ACCEPT")
      (efrit-test-wait (lambda () (eql (plist-get (efrit-test-completion-status) :accepted) 1))
                       "completion.accepted in efrit/status")

      ;; 6. An answer that comes after point moved is dropped (the fake
      ;; holds it until point has moved).
      (goto-char (point-min))
      (re-search-forward "^def with_tax.*\n    return ")
      (efrit-test-command #'efrit-lsp-ghost-complete)
      (efrit-test-emit "SLOW-PENDING" (and efrit-lsp--ghost-pending t))
      (efrit-test-command #'backward-char)
      (efrit-test-signal "moved-away")
      (efrit-test-wait (lambda () (null efrit-lsp--ghost-pending)) "the slow answer" 15)
      (efrit-test-emit "AFTER-STALE-ANSWER" (efrit-test-ghost))

      ;; 7. Dismiss clears a suggestion; turning the mode off removes its hook.
      (efrit-test-command #'forward-char)
      (efrit-test-command #'efrit-lsp-ghost-complete)
      (efrit-test-wait #'efrit-test-ghost "the suggestion in with_tax" 15)
      (efrit-test-emit "WITH-TAX" (efrit-test-ghost))
      (efrit-test-command (key-binding (kbd "C-g")))
      (efrit-test-emit "AFTER-DISMISS" (efrit-test-ghost))
      (efrit-lsp-ghost-mode -1)
      (efrit-test-emit "MODE-OFF-HOOK" (and (memq #'efrit-lsp--ghost-post-command post-command-hook) t))

      (efrit-test-check-sync "FINAL")
      (efrit-test-emit "STATUS" (efrit-test-completion-status))
      (efrit-test-emit "FINAL-BUFFER" (efrit-test-buffer-text (current-buffer)))
      (set-buffer-modified-p nil)
      (eglot-shutdown efrit-test-server)
      (efrit-test-emit "OK" (- (float-time) efrit-test-t0))
      (kill-emacs 0))
  (error (efrit-test-fail "error: %S" err)))

;;; efrit-ghost-test.el ends here
