;;; efrit-lsp-mode-test.el --- efrit-lsp-mode.el over lsp-mode 8.0, in a real, headless Emacs  -*- lexical-binding: t -*-

;; Run by test/clients/emacs-lsp-mode.test.ts:
;;   emacs --batch -Q -l test/clients/emacs/efrit-lsp-mode-test.el
;; with the environment of efrit-test.el.  One ert test per behaviour,
;; all on one efrit-lsp server that lsp-mode starts as an add-on client;
;; each test works in its own copy of the fixture file.  Prints one
;; "EFRIT-ERT <json>" line per test (`efrit-test-run-ert').

;;; Code:

(load (expand-file-name "efrit-test-support.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)

(defvar efrit-test-echoed nil "Every echo-area message and warning, newest first.")
(advice-add 'message :filter-return
            (lambda (text) (when (stringp text) (push text efrit-test-echoed)) text))
(advice-add 'display-warning :before
            (lambda (type text &rest _) (push (format "warning %s: %s" type text) efrit-test-echoed)))

(require 'lsp-mode)
(require 'efrit-lsp-mode)

(efrit-test-configure '(js-mode))
(setq lsp-auto-guess-root t            ; no "Import project root?" prompt
      lsp-enabled-clients '(efrit-lsp)    ; not the typescript-language-server vitest puts on PATH
      lsp-restart 'ignore
      lsp-enable-snippet nil
      lsp-headerline-breadcrumb-enable nil
      lsp-modeline-code-actions-enable nil
      lsp-session-file (expand-file-name "lsp-session" (getenv "HOME")))

(defun efrit-test-lsp-visit (name)
  "Visit a fresh copy of the fixture as NAME, under lsp-mode; return its buffer."
  (let ((buffer (efrit-test-fixture-copy name)))
    (with-current-buffer buffer
      (unless (eq major-mode 'js-mode) (efrit-test-fail "%s is in %s" name major-mode))
      (lsp)
      (efrit-test-wait (lambda () (efrit-lsp--efrit-server-p (efrit-lsp--buffer-server)))
                       "lsp-mode to start efrit-lsp" 60)
      (setq efrit-test-server (efrit-lsp--buffer-server)))
    buffer))

(defun efrit-test-jobs-idle ()
  "Non-nil when no efrit request of ours is in flight."
  (null (efrit-lsp--live-jobs)))

(ert-deftest efrit-lsp-mode-starts-as-an-add-on-client ()
  "lsp-mode starts efrit-lsp as the add-on client `efrit-lsp', with the settings."
  (with-current-buffer (efrit-test-lsp-visit "connect.js")
    (let* ((server (efrit-lsp--buffer-server))
           (client (lsp--workspace-client server)))
      (should (eq (lsp--client-server-id client) 'efrit-lsp))
      (should (lsp--client-add-on? client))
      (should (equal (plist-get (efrit-lsp-status) :model) "claude-emacs-test"))
      (efrit-test-check-sync "CONNECT"))))

(ert-deftest efrit-lsp-mode-explain-streams-into-the-output-buffer ()
  "Explain's text shows in *efrit-output* while the request is pending."
  (with-current-buffer (efrit-test-lsp-visit "explain.js")
    (let* ((bounds (efrit-test-bounds "^function subtotal" "^}\n"))
           (job (efrit-lsp-explain (car bounds) (cadr bounds)))
           (partial nil))
      (efrit-test-wait (lambda ()
                         (let ((text (efrit-test-buffer-text efrit-lsp-output-buffer-name)))
                           (when (and (memq job (efrit-lsp--live-jobs))
                                      (string-match-p "adds up price" text))
                             (setq partial text))
                           (or partial (not (memq job (efrit-lsp--live-jobs))))))
                       "the explanation to begin" 60)
      (should partial)
      (should-not (string-match-p "in the cart\\." partial))
      (efrit-test-signal "lsp-explain-partial")
      (efrit-test-wait #'efrit-test-jobs-idle "the explanation" 60)
      (should (equal (efrit-test-output-section "Efrit: Explain (explain\\.js")
                     "`subtotal` adds up price × quantity for every item in the cart.\n")))))

(ert-deftest efrit-lsp-mode-chat-continues-the-conversation ()
  "Two chat turns over lsp-mode: both replies shown, one session."
  (with-current-buffer (efrit-test-lsp-visit "chat.js")
    (efrit-lsp-chat-new-session)
    (let* ((bounds (efrit-test-bounds "^function total" "^}\n"))
           (chat (efrit-lsp-chat "LSPM-CHAT-1 What does total do?" (car bounds) (cadr bounds))))
      (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the first reply" 60)
      (let ((session (buffer-local-value 'efrit-lsp--chat-session chat)))
        (should (string-prefix-p "session-" session))
        (with-current-buffer chat (efrit-lsp-chat "LSPM-CHAT-2 Does it round?"))
        (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the second reply" 60)
        (should (equal (buffer-local-value 'efrit-lsp--chat-session chat) session)))
      (let ((text (efrit-test-buffer-text chat)))
        (should (string-match-p "Efrit: `total` adds the tax\\.\n" text))
        (should (string-match-p "You: LSPM-CHAT-2 Does it round\\?\n  (about chat\\.js, line [0-9]+)\n\nEfrit: No, it does not\\.\n" text))))))

(ert-deftest efrit-lsp-mode-status-lists-the-provider-that-answered ()
  "efrit-lsp-status reads `providers' from lsp-mode's hash tables: Claude's line.
The chat's model has no price, so its calls are counted, never priced
\(the ghost text's fast model has one)."
  (with-current-buffer (efrit-test-lsp-visit "status.js")
    (efrit-lsp-chat-new-session)
    (let ((chat (efrit-lsp-chat "LSPM-STATUS What does subtotal do?")))
      (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the reply" 60))
    (efrit-lsp-status)
    (let ((shown (seq-find (lambda (text) (string-prefix-p "efrit-lsp " text)) efrit-test-echoed)))
      (should shown)
      (should (string-match-p (concat "\n  anthropic: [0-9]+ requests? · tokens in [0-9]+\\( ([0-9]+ from the cache)\\)?, out [0-9]+ · "
                                      "\\(no price known (tokens only)\\|\\$[0-9]+\\.[0-9]\\{4\\} (\\+[0-9]+ calls? with no known price)\\)\\'")
                              shown)))))

(ert-deftest efrit-lsp-mode-code-action-from-the-menu-applies-its-edit ()
  "\"Efrit: Add documentation\" picked from lsp-mode's actions edits the buffer."
  (with-current-buffer (efrit-test-lsp-visit "action.js")
    (let* ((bounds (efrit-test-bounds "^function subtotal" "^}\n"))
           (actions (progn (transient-mark-mode 1)
                           (goto-char (car bounds))
                           (push-mark (cadr bounds) t t)
                           (prog1 (lsp-code-actions-at-point) (deactivate-mark))))
           (titles (mapcar (lambda (action) (lsp:code-action-title action)) actions))
           (document (seq-find (lambda (action) (equal (lsp:code-action-title action) "Efrit: Add documentation")) actions)))
      (should (member "Efrit: Explain" titles))
      (should document)
      (lsp-execute-code-action document)
      (efrit-test-wait (lambda () (save-excursion (goto-char (point-min)) (search-forward "@returns {number}" nil t)))
                       "the documentation edit" 60)
      (efrit-test-wait #'efrit-test-jobs-idle "the action's answer" 60)
      (should (string-match-p "\\*/\nfunction subtotal(items) {" (efrit-test-buffer-text (current-buffer))))
      (efrit-test-check-sync "AFTER-ACTION"))))

(ert-deftest efrit-lsp-mode-do-applies-the-agents-edit-once-accepted ()
  "efrit-lsp-do over lsp-mode: the change waits in the review buffer; accepted, it lands."
  (with-current-buffer (efrit-test-lsp-visit "do.js")
    (efrit-lsp-do "LSPM-DO round the total to cents" (point-min) (point-min))
    (efrit-test-wait #'efrit-test-jobs-idle "the do answer" 60)
    (should (equal (efrit-test-output-section "Do: LSPM-DO")
                   "Rounded the total to cents.\n[to review in *efrit-review*: C-c C-c accepts, C-c C-k rejects]\n"))
    (should-not (string-match-p "Math\\.round" (efrit-test-buffer-text (current-buffer))))
    (let ((review (get-buffer "*efrit-review*")))
      (with-current-buffer review (efrit-test-key "C-c C-c"))
      (should (eq (efrit-test-settle review) 'accepted))
      (efrit-test-finish-review review))
    (should (string-match-p "Math\\.round" (efrit-test-buffer-text (current-buffer))))
    (efrit-test-check-sync "AFTER-DO")))

(ert-deftest efrit-lsp-mode-review-accepts-a-change-across-files ()
  "Over lsp-mode: the open buffer, a file nobody visits and a new file, reviewed and accepted without a question."
  (let* ((cart (efrit-test-lsp-visit "lspm-cart.js"))
         (cart-text (efrit-test-buffer-text cart))
         (checkout-text (efrit-test-disk "src/lspm-checkout.js"))
         (asked nil))
    (with-current-buffer cart
      (efrit-lsp-do "LSPM-REVIEW rename total to cartTotal everywhere and add a test" (point-min) (point-min))
      (efrit-test-wait #'efrit-test-jobs-idle "the agent's proposal" 90))
    (let ((review (get-buffer "*efrit-review*")))
      (should (equal (mapcar #'efrit-lsp--review-file-path (efrit-lsp--review-files (buffer-local-value 'efrit-lsp--review review)))
                     '("src/lspm-cart.js" "src/lspm-checkout.js" "test/lspm-cart.test.js")))
      (should (equal (efrit-test-buffer-text cart) cart-text))
      (cl-letf (((symbol-function 'y-or-n-p) (lambda (prompt) (push prompt asked) nil))
                ((symbol-function 'yes-or-no-p) (lambda (prompt) (push prompt asked) nil)))
        (with-current-buffer review (efrit-test-key "C-c C-c"))
        (should (eq (efrit-test-settle review) 'accepted)))
      (efrit-test-finish-review review))
    (should (equal asked nil))
    (should (equal (efrit-test-buffer-text cart) (efrit-test-renamed "lspm" cart-text)))
    (should (equal (efrit-test-disk "src/lspm-checkout.js") (efrit-test-renamed "lspm" checkout-text)))
    (should (equal (efrit-test-disk "test/lspm-cart.test.js") (efrit-test-cart-test "lspm")))
    (with-current-buffer cart (efrit-test-check-sync "AFTER-REVIEW"))))

(ert-deftest efrit-lsp-mode-cancel-ends-a-slow-chat ()
  "efrit-lsp-cancel in the chat buffer ends a reply the model never sends."
  (with-current-buffer (efrit-test-lsp-visit "cancel.js")
    (efrit-lsp-chat-new-session)
    (let ((chat (efrit-lsp-chat "LSPM-SLOW Think about this for a long time." (point) (point))))
      ;; Its first words show the request reached the model: the cancel must abort a call in flight.
      (efrit-test-wait (lambda () (string-match-p "Let me think\\." (efrit-test-buffer-text chat)))
                       "the slow chat to start answering" 60)
      (with-current-buffer chat (efrit-lsp-cancel))
      (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the cancelled chat to end" 60)
      (should (string-match-p "You: LSPM-SLOW[^\n]*\n[^\0]*Efrit: Let me think\\.  \\[cancelled\\]\n\n\\'" (efrit-test-buffer-text chat)))
      (efrit-test-wait (lambda () (eql (plist-get (plist-get (efrit-lsp-status) :queue) :running) 0))
                       "nothing left running" 60))))

(ert-deftest efrit-lsp-mode-stream-notes-raise-no-unknown-notification ()
  "efrit/stream notes are handled: no \"Unknown notification\" anywhere."
  (with-current-buffer (efrit-test-lsp-visit "warnings.js")
    (let ((bounds (efrit-test-bounds "^const TAX_RATE" ";\n")))
      (efrit-lsp-explain (car bounds) (cadr bounds))
      (efrit-test-wait #'efrit-test-jobs-idle "the explanation" 60)
      (should (string-match-p "The tax rate" (efrit-test-output-section "Efrit: Explain (warnings\\.js")))
      (should-not (seq-find (lambda (text) (string-match-p "Unknown notification" text)) efrit-test-echoed))
      (dolist (name '("*Warnings*" "*Messages*" "*lsp-log*"))
        (when (get-buffer name)
          (should-not (string-match-p "Unknown notification" (efrit-test-buffer-text name))))))))

(ert-deftest efrit-lsp-mode-ghost-text-shows-and-tab-accepts-it ()
  "Ghost text over lsp-mode: C-c e g shows the suggestion, TAB inserts it, the server counts it."
  (with-current-buffer (efrit-test-lsp-visit "ghost.js")
    (switch-to-buffer (current-buffer))
    (let ((accepted (plist-get (plist-get (efrit-lsp-status) :completion) :accepted)))
      (goto-char (point-max))
      (insert "\nfunction count(items) {\n  return ")
      (save-excursion (insert "\n}\n"))
      (efrit-lsp-ghost-complete)
      (efrit-test-wait #'efrit-lsp-ghost-text "the suggestion" 60)
      (should (equal (efrit-lsp-ghost-text) "items.length;"))
      (should (eq (key-binding (kbd "TAB")) 'efrit-lsp-ghost-accept))
      (call-interactively (key-binding (kbd "TAB")))
      (should (equal (buffer-substring-no-properties (line-beginning-position) (line-end-position))
                     "  return items.length;"))
      (efrit-test-check-sync "AFTER-ACCEPT")
      (efrit-test-wait (lambda () (eql (plist-get (plist-get (efrit-lsp-status) :completion) :accepted) (1+ accepted)))
                       "completion.accepted in efrit/status" 60))))

(efrit-test-run-ert)

;;; efrit-lsp-mode-test.el ends here
