;;; efrit-test.el --- efrit-lsp.el over Eglot in a real, headless Emacs  -*- lexical-binding: t -*-

;; Run by test/clients/emacs.test.ts:
;;   emacs --batch -Q -l test/clients/emacs/efrit-test.el
;; with the environment:
;;   EFRIT_TEST_CLIENT_DIR  the folder of efrit-lsp.el
;;   EFRIT_TEST_SERVER      the server command, as a JSON array of strings
;;   EFRIT_TEST_FILE        the source file (inside a temp project); each
;;                          test works in its own copy of it
;;   EFRIT_TEST_EVENTS_LOG  where to write Eglot's JSON-RPC log on failure
;; One ert test per behaviour, all on one server; one "EFRIT-ERT <json>"
;; line per test (`efrit-test-run-ert').  Where the fake API holds a reply
;; until a state is seen here, `efrit-test-signal' says so on stderr.

;;; Code:

(load (expand-file-name "efrit-test-support.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)

(defvar efrit-test-messages nil "The echo-area messages from efrit, newest first.")
(advice-add 'message :filter-return
            (lambda (text)
              (when (and (stringp text) (string-prefix-p "efrit:" text))
                (push text efrit-test-messages))
              text))

(defun efrit-test-jobs-idle ()
  "Non-nil when no efrit request of ours is in flight."
  (null (efrit-lsp--live-jobs)))

(efrit-test-configure '(js-mode))
(efrit-lsp-setup)

(defun efrit-test-visit (name)
  "Visit a fresh copy of the fixture as NAME, managed by Eglot; return its buffer."
  (efrit-test-eglot-visit name 'js-mode))

(defun efrit-test-chat-since-new ()
  "The chat buffer's text since its last \"New conversation\" note."
  (let ((text (efrit-test-buffer-text efrit-lsp-chat-buffer-name))
        (from 0))
    (while (string-match "── New conversation ──\n\n" text from)
      (setq from (match-end 0)))
    (substring text from)))

(defun efrit-test-select (bounds)
  "Make BOUNDS, (BEG END), the active region, as the user would."
  (transient-mark-mode 1)
  (goto-char (car bounds))
  (push-mark (cadr bounds) t t))

(ert-deftest efrit-eglot-commands-say-how-to-connect-first ()
  "Before Eglot manages a buffer, every command says what to do."
  (with-current-buffer (find-file-noselect (expand-file-name "notes.txt" (file-name-directory (getenv "EFRIT_TEST_FILE"))))
    (should (string-match-p "not connected — M-x eglot first"
                            (condition-case e (progn (efrit-lsp-status) "no error")
                              (user-error (error-message-string e)))))))

(ert-deftest efrit-eglot-setup-registers-and-connects ()
  "efrit-lsp-setup puts efrit-lsp in Eglot's programs; Eglot connects with the settings."
  (should (cl-find-if #'efrit-lsp-eglot--entry-p eglot-server-programs))
  (with-current-buffer (efrit-test-visit "connect.js")
    (should (string-match-p "shop/\\'" (project-root (eglot--project efrit-test-server))))
    (should (equal (plist-get (eglot--server-info efrit-test-server) :name) "efrit-lsp"))
    (should (equal (plist-get (efrit-lsp-status) :model) "claude-emacs-test"))))

(ert-deftest efrit-eglot-code-action-from-the-menu-applies-without-blocking ()
  "\"Efrit: Add documentation\" picked from Eglot's menu returns at once and edits later."
  (with-current-buffer (efrit-test-visit "action.js")
    (let ((bounds (efrit-test-bounds "^function subtotal" "^}\n"))
          (last-nonmenu-event ?\r)          ; else Eglot pops an x-popup-menu
          (titles nil))
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (_prompt collection &rest _)
                   (setq titles (mapcar #'car collection))
                   "Efrit: Add documentation")))
        (eglot-code-actions (car bounds) (cadr bounds) nil t))
      (should (cl-subsetp '("Efrit: Explain" "Efrit: Rewrite…" "Efrit: Add documentation" "Efrit: Write tests")
                          titles :test #'equal))
      (should-not (efrit-test-jobs-idle))   ; it returned while the job runs
      (efrit-test-wait #'efrit-test-jobs-idle "the action's answer" 60)
      (should (string-match-p "@returns {number}\n \\*/\nfunction subtotal(items) {" (efrit-test-buffer-text (current-buffer))))
      (should (string-match-p "\\`Documented subtotal" (efrit-test-output-section "Efrit: Add documentation (action\\.js, lines 6–12) ──")))
      (efrit-test-check-sync "AFTER-ACTION"))))

(ert-deftest efrit-eglot-chat-streams-and-continues-the-conversation ()
  "A reply streams in while pending; the next message, from the chat buffer, continues it."
  (with-current-buffer (efrit-test-visit "chat.js")
    (efrit-lsp-chat-new-session)
    (efrit-test-select (efrit-test-bounds "^function total" "^}\n"))
    (let ((chat (cl-letf (((symbol-function 'read-string) (lambda (&rest _) "CHAT-1 What does total do?")))
                  (call-interactively #'efrit-lsp-chat)))
          (streamed nil))
      (deactivate-mark)
      (efrit-test-wait (lambda ()
                         (when (and (efrit-lsp--chat-pending chat)
                                    (string-match-p "takes the subtotal" (efrit-test-buffer-text chat)))
                           (setq streamed (efrit-test-buffer-text chat)))
                         (or streamed (null (efrit-lsp--chat-pending chat))))
                       "the first chat reply" 60)
      (should streamed)
      (should-not (string-match-p "and adds tax\\." streamed))
      (efrit-test-signal "chat-1-partial")
      (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the end of the first chat reply" 60)
      (let ((session (buffer-local-value 'efrit-lsp--chat-session chat)))
        (should (string-prefix-p "session-" session))
        (with-current-buffer chat (efrit-lsp-chat "CHAT-2 Does it round?"))
        (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the second chat reply" 60)
        (should (equal (buffer-local-value 'efrit-lsp--chat-session chat) session)))
      (should (equal (efrit-test-chat-since-new)
                     (concat "You: CHAT-1 What does total do?\n  (about chat.js, lines 14–18)\n\n"
                             "Efrit: `total` takes the subtotal, subtracts the coupon discount and adds tax.\n\n"
                             "You: CHAT-2 Does it round?\n  (about chat.js, line 14)\n\n"
                             "Efrit: No: it returns the unrounded amount.\n\n"))))))

(ert-deftest efrit-eglot-chat-header-and-echo-area-after-the-first-reply ()
  "The first turn is a new conversation; after its reply the echo area no longer says asking."
  (with-current-buffer (efrit-test-visit "header.js")
    (efrit-lsp-chat-new-session)
    (let ((chat (efrit-lsp-chat "CHAT-HEADER Is this a new conversation?" (point) (point))))
      (with-current-buffer chat
        (should (string-match-p "new conversation\\'" (efrit-lsp--chat-header))))
      (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the reply" 60)
      (should (member "efrit: chat — asking claude-emacs-test" efrit-test-messages))
      (should (equal (car efrit-test-messages) "efrit: chat — replied in *efrit-chat*"))
      (with-current-buffer chat
        (should (string-match-p "conversation of 1 turn; the next message continues it\\'" (efrit-lsp--chat-header)))))))

(ert-deftest efrit-eglot-do-rebases-its-edit-onto-what-was-typed-meanwhile ()
  "The agent's edit, reviewed and accepted, lands although the user typed above it
while the model worked and while the change waited for review."
  (with-current-buffer (efrit-test-visit "do.js")
    (efrit-test-select (efrit-test-bounds "^function total" "^}\n"))
    (cl-letf (((symbol-function 'read-string) (lambda (&rest _) "DO-ROUND round the total to cents")))
      (call-interactively #'efrit-lsp-do))
    (deactivate-mark)
    (goto-char (point-min))
    (forward-line 1)
    (insert "// Prices are in cents.\n")
    (eglot--signal-textDocument/didChange) ; what Eglot's idle timer does
    (efrit-test-check-sync "DURING-DO")
    (efrit-test-signal "typed-during-do")
    (efrit-test-wait #'efrit-test-jobs-idle "the do answer" 60)
    (should (equal (efrit-test-output-section "Do: DO-ROUND")
                   "Rounded the total to cents.\n[to review in *efrit-review*: C-c C-c accepts, C-c C-k rejects]\n"))
    (should-not (string-match-p "Math\\.round" (efrit-test-buffer-text (current-buffer))))
    (let ((review (get-buffer "*efrit-review*")))
      (should (string-match-p "^\\+  return Math\\.round((base - discount) \\* (1 \\+ TAX_RATE) \\* 100) / 100;$"
                              (efrit-test-buffer-text review)))
      ;; Typed while the change waits: accepting rebases it onto this too.
      (goto-char (point-min))
      (insert "// Reviewed by hand.\n")
      (with-current-buffer review (call-interactively (key-binding (kbd "C-c C-c"))))
      (efrit-test-wait (lambda () (eq (efrit-lsp--review-status (buffer-local-value 'efrit-lsp--review review)) 'accepted))
                       "the accepted change" 60))
    (let ((text (efrit-test-buffer-text (current-buffer))))
      (should (string-match-p "\\`// Reviewed by hand.\n// cart.js[^\n]*\n// Prices are in cents.\n'use strict';\n" text))
      (should (string-match-p "  return Math.round((base - discount) \\* (1 \\+ TAX_RATE) \\* 100) / 100;" text)))
    (should (equal (car efrit-test-messages) "efrit: Rounded the total to cents. — applied to 1 file"))
    (efrit-test-check-sync "AFTER-DO")))

(ert-deftest efrit-eglot-do-refuses-an-edit-of-text-that-is-not-there ()
  "An edit quoting text not in the file changes nothing, and says so."
  (with-current-buffer (efrit-test-visit "do-bad.js")
    (let ((before (efrit-test-buffer-text (current-buffer))))
      (efrit-lsp-do "DO-BAD change what is not there" (point-min) (point-min))
      (efrit-test-wait #'efrit-test-jobs-idle "the refused do" 60)
      (should (equal (efrit-test-buffer-text (current-buffer)) before)))
    (should (string-match-p "\\`efrit: do: .+" (car efrit-test-messages)))
    (should (string-match-p "\\`\\[Efrit stopped after 2 steps: the model repeated the call propose_edits .*Nothing was changed\\.\\]\n\\'"
                            (efrit-test-output-section "Do: DO-BAD change what is not there (do-bad\\.js, line 1) ──")))))

(ert-deftest efrit-eglot-explain-and-chat-stream-each-into-its-own-buffer ()
  "An explanation and a chat in flight together: each text lands in its own buffer."
  (with-current-buffer (efrit-test-visit "explain.js")
    (efrit-lsp-chat-new-session)
    (let* ((bounds (efrit-test-bounds "^function subtotal" "^}\n"))
           (chat (progn (efrit-lsp-explain (car bounds) (cadr bounds))
                        (efrit-lsp-chat "CHAT-3 Is subtotal pure?" (car bounds) (car bounds)))))
      (should (= (length (efrit-lsp--live-jobs)) 2))
      (efrit-test-wait (lambda ()
                         (and (string-match-p "adds up price" (efrit-test-buffer-text efrit-lsp-output-buffer-name))
                              (string-match-p "Yes: it reads" (efrit-test-buffer-text chat))))
                       "the explanation and the chat to begin" 60)
      (efrit-test-signal "both-streaming")
      (efrit-test-wait #'efrit-test-jobs-idle "the explanation and the chat" 60)
      (should (equal (efrit-test-output-section "Efrit: Explain (explain\\.js, lines 6–12) ──")
                     "`subtotal` adds up price × quantity for every item in the cart.\n"))
      (should (equal (efrit-test-chat-since-new)
                     "You: CHAT-3 Is subtotal pure?\n  (about explain.js, line 6)\n\nEfrit: Yes: it reads its argument and changes nothing.\n\n"))
      (should-not (string-match-p "Efrit job\\|changes nothing" (efrit-test-buffer-text efrit-lsp-output-buffer-name))))))

(ert-deftest efrit-eglot-cancel-ends-a-chat-the-model-never-finishes ()
  "Cancelling from the chat buffer ends the reply, marks it, and leaves nothing running."
  (with-current-buffer (efrit-test-visit "cancel.js")
    (efrit-lsp-chat-new-session)
    (let ((chat (efrit-lsp-chat "SLOW-CHAT Think about this for a long time." (point) (point))))
      ;; Its first words show the request reached the model: the cancel must abort a call in flight.
      (efrit-test-wait (lambda () (string-match-p "Let me think\\." (efrit-test-buffer-text chat)))
                       "the slow chat to start answering" 60)
      (should (numberp (efrit-lsp--job-request-id (efrit-lsp--chat-pending chat))))
      (with-current-buffer chat (efrit-lsp-cancel))
      (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the cancelled chat to end" 60)
      (should (string-match-p "\\`You: SLOW-CHAT[^\n]*\n[^\0]*Efrit: Let me think\\.  \\[cancelled\\]\n\n\\'" (efrit-test-chat-since-new)))
      (efrit-test-wait (lambda () (eql (plist-get (plist-get (efrit-lsp-status) :queue) :running) 0))
                       "nothing left running" 60))))

(ert-deftest efrit-eglot-server-copy-follows-the-buffer-through-edits ()
  "Typing at both ends and a replacement: the server's copy equals the buffer."
  (with-current-buffer (efrit-test-visit "sync.js")
    (goto-char (point-min))
    (search-forward "'use strict';\n")
    (insert "\nconst CURRENCY = 'EUR';\n")
    (efrit-test-check-sync "AFTER-TYPING")
    (goto-char (point-max))
    (insert "// end of cart.js\n")
    (goto-char (point-min))
    ;; FIXEDCASE: with case conversion (an all-caps match), Emacs 28 runs
    ;; before-change-functions twice and after-change once, and Eglot 1.9
    ;; then sends a wrong range; that Eglot bug is not what this tests.
    (when (search-forward "TAX_RATE = 0.2" nil t) (replace-match "TAX_RATE = 0.25" t t))
    (efrit-test-check-sync "FINAL")
    (should (efrit-lsp-check-sync))))

(efrit-test-run-ert)

;;; efrit-test.el ends here
