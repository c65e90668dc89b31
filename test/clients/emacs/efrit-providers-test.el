;;; efrit-providers-test.el --- efrit-lsp-status after a session on two providers  -*- lexical-binding: t -*-

;; Run by test/clients/emacs.test.ts like efrit-test.el, with also:
;;   OPENAI_API_KEY          the fake Chat Completions API's key
;;   EFRIT_TEST_OPENAI_URL   its base URL
;; A chat on a Claude model (priced by the `prices' setting) against the
;; fake Messages API and a ghost-text suggestion from an `openai:'
;; fastModel (no price) against the fake Chat Completions API; then what
;; M-x efrit-lsp-status shows.  The status it showed and the server's
;; `providers' go to the TypeScript side ("EFRIT-TEST" lines), which
;; checks the figures.

;;; Code:

(load (expand-file-name "efrit-test-support.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)
(require 'efrit-lsp-ghost)

(defvar efrit-test-status-messages nil "The status lines `efrit-lsp-status' showed, newest first.")
(advice-add 'message :filter-return
            (lambda (text)
              (when (and (stringp text) (string-prefix-p "efrit-lsp " text))
                (push text efrit-test-status-messages))
              text))

(efrit-test-configure '(python-mode))
(setq efrit-lsp-initialization-options
      `(:model "claude-shop-test" :logLevel "debug"
        :fastModel "openai:qwen2.5-coder:7b"
        :openai (:baseURL ,(getenv "EFRIT_TEST_OPENAI_URL"))
        :prices (:claude-shop-test (:input 3 :output 15))))
(efrit-lsp-setup)

(ert-deftest efrit-providers-status-shows-each-provider-with-its-tokens-and-dollars ()
  "After a Claude chat and an openai: suggestion, the status has a line for each."
  (with-current-buffer (efrit-test-eglot-visit "providers.py" 'python-mode)
    (switch-to-buffer (current-buffer))
    (goto-char (point-min))
    (re-search-forward "^def order_total.*\n.*\n    return ")
    (efrit-lsp-chat "What does order_total do?")
    (efrit-test-wait (lambda () (null (efrit-lsp--live-jobs))) "the chat reply" 60)
    (should (string-match-p "multiplies the unit price" (efrit-test-buffer-text efrit-lsp-chat-buffer-name)))
    (efrit-lsp-ghost-complete)
    (efrit-test-wait #'efrit-lsp-ghost-text "the suggestion" 60)
    (should (equal (efrit-lsp-ghost-text) "order.unit_price * order.quantity"))
    (let* ((status (efrit-lsp-status))
           (shown (car efrit-test-status-messages))
           (lines (split-string shown "\n")))
      (efrit-test-emit "STATUS-SHOWN" shown)
      (efrit-test-emit "PROVIDERS" (plist-get status :providers))
      (should (= (length lines) 3))
      (should (string-match-p "^  anthropic: 1 request · tokens in [0-9]+, out [0-9]+ · \\$[0-9]+\\.[0-9]\\{4\\}\\'" (nth 1 lines)))
      (should (string-match-p "^  openai: 1 request · tokens in [0-9]+, out [0-9]+ · no price known (tokens only)\\'" (nth 2 lines))))))

(efrit-test-run-ert)

;;; efrit-providers-test.el ends here
