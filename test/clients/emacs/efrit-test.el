;;; efrit-test.el --- drive efrit-lsp.el in a real, headless Emacs  -*- lexical-binding: t -*-

;; Run by test/clients/emacs.test.ts:
;;   emacs --batch -Q -l test/clients/emacs/efrit-test.el
;; with the environment:
;;   EFRIT_TEST_CLIENT_DIR  the folder of efrit-lsp.el
;;   EFRIT_TEST_SERVER      the server command, as a JSON array of strings
;;   EFRIT_TEST_FILE        the source file to open (inside a temp project)
;;   EFRIT_TEST_EVENTS_LOG  where to write Eglot's JSON-RPC log on failure
;; Prints "EFRIT-TEST <key> <json>" lines on stdout (diagnostics go to
;; stderr through `message'); exits 0 when every step passed.  Where the
;; fake API holds a reply until a state is seen here, `efrit-test-signal'
;; says so on stderr.

;;; Code:

(load (expand-file-name "efrit-test-support.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)


(defvar efrit-test-last-message nil "The latest echo-area message from efrit.")
(advice-add 'message :filter-return
            (lambda (text)
              (when (and (stringp text) (string-prefix-p "efrit:" text))
                (setq efrit-test-last-message text))
              text))
(advice-add 'efrit-lsp--on-stream :before
            (lambda (_server job-id session-id stream-id kind text)
              (efrit-test-log "efrit/stream %s %s %s %s %S" job-id session-id stream-id kind text)))

(defun efrit-test-jobs-idle ()
  "Non-nil when no efrit request of ours is in flight."
  (null (efrit-lsp--live-jobs)))

(efrit-test-configure '(js-mode))

(condition-case err
    (let* ((file (getenv "EFRIT_TEST_FILE"))
           (chat nil)
           beg-end)
      (efrit-lsp-setup)
      (efrit-test-emit "REGISTERED" (and (cl-find-if #'efrit-lsp-eglot--entry-p eglot-server-programs) t))
      (with-current-buffer (find-file-noselect file)
        ;; Not connected yet: every command says what to do.
        (efrit-test-emit "NOT-CONNECTED"
                         (condition-case e (progn (efrit-lsp-status) "no error")
                           (user-error (error-message-string e))))
        ;; eglot-ensure only arms post-command-hook; batch Emacs has no command loop.
        (eglot-ensure)
        (run-hooks 'post-command-hook)
        (unless (or eglot--managed-mode
                    (cl-some (lambda (p) (string-prefix-p "EGLOT" (process-name p))) (process-list)))
          (apply #'eglot (eglot--guess-contact)))
        (efrit-test-wait (lambda () (and eglot--managed-mode (eglot-current-server))) "the connection" 15)
        (setq efrit-test-server (eglot-current-server))
        (efrit-test-emit "CONNECTED" (list :mode (symbol-name major-mode)
                                           :project (project-root (eglot--project efrit-test-server))
                                           :server (plist-get (eglot--server-info efrit-test-server) :name)))
        (efrit-test-emit "MODEL" (plist-get (efrit-lsp-status) :model))

        ;; 1. The user types; the server must follow.
        (goto-char (point-min))
        (search-forward "'use strict';\n")
        (insert "\nconst CURRENCY = 'EUR';\n")
        (efrit-test-check-sync "AFTER-TYPING")

        ;; 2. A code action from Eglot's own menu, the pick faked.
        (setq beg-end (efrit-test-bounds "^function subtotal" "^}\n"))
        (let ((last-nonmenu-event ?\r)   ; else Eglot pops an x-popup-menu
              (titles nil))
          (cl-letf (((symbol-function 'completing-read)
                     (lambda (_prompt collection &rest _)
                       (setq titles (mapcar #'car collection))
                       "Efrit: Add documentation")))
            (eglot-code-actions (car beg-end) (cadr beg-end) nil t))
          (efrit-test-emit "MENU" titles))
        (efrit-test-emit "ACTION-RETURNED-AT-ONCE" (not (efrit-test-jobs-idle)))
        (efrit-test-wait (lambda () (save-excursion (goto-char (point-min)) (search-forward "@returns {number}" nil t)))
                         "the documentation edit")
        (efrit-test-wait #'efrit-test-jobs-idle "the action's answer")
        (efrit-test-emit "ACTION-APPLIED" t)
        (efrit-test-check-sync "AFTER-ACTION")

        ;; 3. Chat, two turns in one session; the first reply streams in
        ;; (the fake holds its rest until the first part has been seen).
        (setq beg-end (efrit-test-bounds "^function total" "^}\n"))
        ;; Interactively (M-x efrit-lsp-chat), with the function as the active region.
        (transient-mark-mode 1)
        (goto-char (car beg-end))
        (push-mark (cadr beg-end) t t)
        (setq chat (cl-letf (((symbol-function 'read-string)
                              (lambda (&rest _) "CHAT-1 What does total do?")))
                     (call-interactively #'efrit-lsp-chat)))
        (deactivate-mark)
        (let ((streamed nil))
          (efrit-test-wait (lambda ()
                             (when (and (efrit-lsp--chat-pending chat)
                                        (string-match-p "takes the subtotal" (efrit-test-buffer-text chat)))
                               (setq streamed (efrit-test-buffer-text chat)))
                             (or streamed (null (efrit-lsp--chat-pending chat))))
                           "the first chat reply")
          (efrit-test-emit "CHAT-1-PARTIAL" streamed)
          (efrit-test-signal "chat-1-partial"))
        (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the end of the first chat reply")
        (let ((session1 (buffer-local-value 'efrit-lsp--chat-session chat)))
          (efrit-test-emit "CHAT-1-SESSION" session1)
          ;; The second turn is sent from the chat buffer itself, about the same file.
          (with-current-buffer chat (efrit-lsp-chat "CHAT-2 Does it round?"))
          (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the second chat reply")
          (efrit-test-emit "CHAT-2-SESSION" (buffer-local-value 'efrit-lsp--chat-session chat))
          (efrit-test-emit "CHAT-SAME-SESSION" (equal session1 (buffer-local-value 'efrit-lsp--chat-session chat))))
        (efrit-test-emit "CHAT-BUFFER" (efrit-test-buffer-text chat))

        ;; 4. Do: the agent's edit lands in the buffer.
        ;; An edit the model gets wrong (its quote is not in the file) is refused, and said so.
        (efrit-lsp-do "DO-BAD change what is not there" (point-min) (point-min))
        (efrit-test-wait #'efrit-test-jobs-idle "the refused do")
        (efrit-test-emit "DO-BAD-MESSAGE" efrit-test-last-message)
        (setq beg-end (efrit-test-bounds "^function total" "^}\n"))
        (goto-char (car beg-end))
        (push-mark (cadr beg-end) t t)
        (cl-letf (((symbol-function 'read-string)
                   (lambda (&rest _) "DO-ROUND round the total to cents")))
          (call-interactively #'efrit-lsp-do))
        (deactivate-mark)
        ;; The user goes on typing while the model works (the fake answers
        ;; once the server has the new text); the server rebases the edit
        ;; onto it.
        (goto-char (point-min))
        (forward-line 1)
        (insert "// Prices are in cents.\n")
        (eglot--signal-textDocument/didChange) ; what Eglot's idle timer does
        (efrit-test-check-sync "DURING-DO")
        (efrit-test-signal "typed-during-do")
        (efrit-test-wait (lambda () (save-excursion (goto-char (point-min)) (search-forward "Math.round" nil t)))
                         "the do edit")
        (efrit-test-wait #'efrit-test-jobs-idle "the do answer")
        (efrit-test-emit "DO-APPLIED" t)
        (efrit-test-check-sync "AFTER-DO")

        ;; 5. Explain and a chat in a new conversation, in flight together:
        ;; each one's streamed text must land in its own buffer.  The fake
        ;; holds both after their first words until both show here, so the
        ;; two streams interleave.
        (efrit-lsp-chat-new-session)
        (setq beg-end (efrit-test-bounds "^function subtotal" "^}\n"))
        (efrit-lsp-explain (car beg-end) (cadr beg-end))
        (efrit-lsp-chat "CHAT-3 Is subtotal pure?" (car beg-end) (car beg-end))
        (efrit-test-emit "CONCURRENT-JOBS" (length (efrit-lsp--live-jobs)))
        (efrit-test-wait (lambda ()
                           (and (string-match-p "adds up price" (efrit-test-buffer-text efrit-lsp-output-buffer-name))
                                (string-match-p "Yes: it reads" (efrit-test-buffer-text chat))))
                         "the explanation and the third chat to begin")
        (efrit-test-signal "both-streaming")
        (efrit-test-wait #'efrit-test-jobs-idle "the explanation and the third chat")
        (efrit-test-emit "CHAT-3-SESSION" (buffer-local-value 'efrit-lsp--chat-session chat))
        (efrit-test-emit "OUTPUT-BUFFER" (efrit-test-buffer-text efrit-lsp-output-buffer-name))

        ;; 6. A first turn of a new conversation the model never answers,
        ;; cancelled from the chat buffer before the server named its job or
        ;; session ($/cancelRequest).
        (efrit-lsp-chat-new-session)
        (efrit-lsp-chat "SLOW-CHAT Think about this for a long time." (point) (point))
        (efrit-test-wait (lambda () (> (plist-get (plist-get (efrit-lsp-status) :queue) :running) 0))
                         "the slow chat to start")
        (efrit-test-emit "SLOW-CHAT-IDS" (let ((job (efrit-lsp--chat-pending chat)))
                                           (list (efrit-lsp--job-job-id job)
                                                 (efrit-lsp--job-request-id job))))
        (with-current-buffer chat (efrit-lsp-cancel))
        (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the cancelled chat to end")
        (efrit-test-emit "CHAT-BUFFER-AFTER-CANCEL" (efrit-test-buffer-text chat))
        (efrit-test-emit "RUNNING-AFTER-CANCEL" (plist-get (plist-get (efrit-lsp-status) :queue) :running))

        ;; 7. More typing, then the server's copy must equal the buffer.
        (goto-char (point-max))
        (insert "// end of cart.js\n")
        (goto-char (point-min))
        ;; FIXEDCASE: with case conversion (an all-caps match), Emacs 28 runs
        ;; before-change-functions twice and after-change once, and Eglot 1.9
        ;; then sends a wrong range; that Eglot bug is not what this tests.
        (when (search-forward "TAX_RATE = 0.2" nil t) (replace-match "TAX_RATE = 0.25" t t))
        (efrit-test-check-sync "FINAL")
        (efrit-test-emit "CHECK-SYNC-COMMAND" (efrit-lsp-check-sync))
        (efrit-test-emit "USAGE" (plist-get (efrit-lsp-status) :usage))
        (efrit-test-emit "FINAL-BUFFER" (efrit-test-buffer-text (current-buffer)))
        (set-buffer-modified-p nil)
        (eglot-shutdown efrit-test-server)
        (efrit-test-emit "OK" (- (float-time) efrit-test-t0))
        (kill-emacs 0)))
  (error (efrit-test-fail "error: %S" err)))

;;; efrit-test.el ends here
