;;; efrit-package-test.el --- the Emacs package as its ecosystem checks it, and its pure parts  -*- lexical-binding: t -*-

;; Run by test/clients/emacs-package.test.ts:
;;   emacs --batch -Q -l test/clients/emacs/efrit-package-test.el
;; No server: the package's files byte-compiled (warnings are errors),
;; checkdoc and package-lint (Debian's elpa-package-lint) run on each,
;; and what the status line and the chat header say.  One
;; "EFRIT-ERT <json>" line per test (`efrit-test-run-ert').

;;; Code:

(load (expand-file-name "efrit-test-support.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)
(require 'checkdoc)
(require 'package-lint)

(defconst efrit-test-package-files
  '("efrit-lsp.el" "efrit-lsp-eglot.el" "efrit-lsp-ghost.el" "efrit-lsp-mode.el" "efrit-lsp-review.el")
  "The files of the package, the main one first.")

(defun efrit-test-package-file (name)
  "The absolute file name of the package file NAME."
  (expand-file-name name (getenv "EFRIT_TEST_CLIENT_DIR")))

(defun efrit-test-checkdoc-findings (file)
  "Checkdoc's findings in FILE, as \"NAME:LINE: TEXT\" strings.
Except the one the package keeps: messages that begin with the
\"efrit:\" prefix, not a capital letter, so the user sees where they
come from."
  (let ((found nil))
    (with-temp-buffer
      (insert-file-contents file t)
      (setq buffer-file-name file)
      (emacs-lisp-mode)
      (let ((checkdoc-autofix-flag 'never)
            (checkdoc-create-error-function
             (lambda (text start _end &optional _unfixable)
               (unless (and (equal text "Messages should start with a capital letter")
                            (save-excursion
                              (goto-char start)
                              (looking-back "\"efrit: " (- start 8))))
                 (push (format "%s:%d: %s" (file-name-nondirectory file)
                               (line-number-at-pos start) text)
                       found))
               nil)))
        (checkdoc-current-buffer t))
      (set-buffer-modified-p nil))
    (nreverse found)))

(defun efrit-test-package-lint-findings (file)
  "package-lint's findings in FILE, as \"NAME:LINE: TYPE TEXT\" strings.
Secondary files are linted against the main file's headers."
  (with-temp-buffer
    (insert-file-contents file t)
    (emacs-lisp-mode)
    (let ((package-lint-main-file
           (unless (equal (file-name-nondirectory file) (car efrit-test-package-files))
             (efrit-test-package-file (car efrit-test-package-files))))
          ;; Offline, no archive is fetched: the packages installed from
          ;; Debian (eglot 1.9 among them) stand for what GNU ELPA lists.
          (package-archive-contents
           (mapcar (lambda (entry) (list (car entry) (cadr entry))) package-alist)))
      (mapcar (lambda (finding)
                (pcase-let ((`(,line ,_col ,type ,text) finding))
                  (format "%s:%d: %s %s" (file-name-nondirectory file) line type text)))
              (cl-remove-if
               (lambda (finding)
                 ;; package-lint 0.16 predates Emacs 28.1's release, and says
                 ;; so of any package that needs it.
                 (equal (nth 3 finding) "This makes the package uninstallable in all released Emacs versions."))
               (package-lint-buffer))))))

(ert-deftest efrit-package-byte-compiles-without-warnings ()
  "Each file compiles in a fresh Emacs with warnings as errors."
  (let* ((dir (make-temp-file "efrit-compile-" t))
         (files (mapcar (lambda (name)
                          (copy-file (efrit-test-package-file name) (expand-file-name name dir))
                          (expand-file-name name dir))
                        efrit-test-package-files)))
    (unwind-protect
        (with-temp-buffer
          (let ((code (apply #'call-process (expand-file-name invocation-name invocation-directory)
                             nil t nil "--batch" "-Q"
                             "--eval" "(progn (require 'package) (setq package-directory-list '(\"/usr/share/emacs/site-lisp/elpa\")) (package-initialize))"
                             "-L" dir "--eval" "(setq byte-compile-error-on-warn t)"
                             "-f" "batch-byte-compile" files)))
            (let ((output (buffer-string)))
              (should (equal (list :exit code :warnings (and (string-match-p "Warning\\|Error" output) output))
                             '(:exit 0 :warnings nil))))
            (dolist (file files) (should (file-exists-p (concat file "c"))))))
      (delete-directory dir t))))

(ert-deftest efrit-package-checkdoc-finds-nothing-but-the-efrit-prefix ()
  "Checkdoc on every file: no finding but the \"efrit:\" message prefix."
  (should (equal (mapcan (lambda (name) (efrit-test-checkdoc-findings (efrit-test-package-file name)))
                         efrit-test-package-files)
                 nil)))

(ert-deftest efrit-package-checkdoc-sees-a-finding ()
  "The checkdoc check above finds what it should (it is not vacuous)."
  (let ((file (make-temp-file "efrit-checkdoc-" nil ".el"
                              ";;; x.el --- x  -*- lexical-binding: t -*-\n;;; Commentary:\n;;; Code:\n(defun x-y (a)\n  \"does things\"\n  a)\n(provide 'x)\n;;; x.el ends here\n")))
    (unwind-protect (should (efrit-test-checkdoc-findings file))
      (delete-file file))))

(ert-deftest efrit-package-lint-finds-nothing ()
  "package-lint on every file, the secondary ones against the main file's headers."
  (should (equal (mapcan (lambda (name) (efrit-test-package-lint-findings (efrit-test-package-file name)))
                         efrit-test-package-files)
                 nil)))

(ert-deftest efrit-package-requires-what-it-uses ()
  "The main file requires Emacs 28.1 and Eglot 1.9, the versions it is tested with."
  (with-temp-buffer
    (insert-file-contents (efrit-test-package-file "efrit-lsp.el"))
    (should (equal (package-desc-reqs (package-buffer-info))
                   '((emacs (28 1)) (eglot (1 9)))))))

(ert-deftest efrit-status-line-counts-cache-writes-in-tokens-in ()
  "Tokens in are the uncached input plus the cache writes; cache reads apart."
  (let ((line (efrit-lsp--status-line
               '(:version "0.1.0" :model "claude-test" :queue (:running 0 :queued 0)
                 :sessions (:open 1) :apiKeyConfigured t :offline :json-false
                 :usage (:requests 2 :inputTokens 120 :cacheWriteTokens 2000
                         :cacheReadTokens 5000 :outputTokens 40)))))
    (should (string-match-p "tokens in 2120 (\\+5000 from the prompt cache) / out 40" line))
    (should-not (string-match-p "offline" line))))

(ert-deftest efrit-status-line-says-offline ()
  "With the built-in demo model, the status says offline and asks for no key."
  (let ((offline (efrit-lsp--status-line
                  '(:version "0.1.0" :model "demo" :queue (:running 0 :queued 0)
                    :sessions (:open 0) :apiKeyConfigured :json-false :offline t
                    :usage (:requests 0 :inputTokens 0 :outputTokens 0
                            :cacheReadTokens 0 :cacheWriteTokens 0))))
        (no-field (efrit-lsp--status-line
                   '(:version "0.1.0" :model "claude-test" :queue (:running 0 :queued 0)
                     :sessions (:open 0) :apiKeyConfigured :json-false
                     :usage (:requests 0 :inputTokens 0 :outputTokens 0
                             :cacheReadTokens 0 :cacheWriteTokens 0)))))
    (should (string-match-p "offline" offline))
    (should-not (string-match-p "NO API KEY" offline))
    (should-not (string-match-p "offline" no-field))
    (should (string-match-p "NO API KEY" no-field))))

(ert-deftest efrit-status-line-shows-spend-only-where-a-price-is-known ()
  "Money spent is shown in dollars; calls with no known price are counted, never priced."
  (let ((line (lambda (spend)
                (efrit-lsp--status-line
                 `(:version "0.1.0" :model "m" :queue (:running 0 :queued 0) :sessions (:open 0)
                   :apiKeyConfigured t :usage (:requests 3) :spend ,spend)))))
    (should (string-match-p " · spent \\$0\\.0123\\'" (funcall line '(:usd 0.012345 :requests 3 :unpricedRequests 0))))
    (should (string-match-p " · spent \\$0\\.0100 (\\+1 call with no known price)" (funcall line '(:usd 0.01 :requests 3 :unpricedRequests 1))))
    (should (string-match-p "spent: no price known for this model (tokens only)" (funcall line '(:usd 0 :requests 2 :unpricedRequests 2))))
    (should-not (string-match-p "spent" (funcall line '(:usd 0 :requests 0 :unpricedRequests 0))))
    (should-not (string-match-p "spent" (funcall line nil)))))

(ert-deftest efrit-status-text-lists-each-provider-with-tokens-and-dollars-where-priced ()
  "One line per provider, by name: dollars where priced, unpriced calls counted, tokens only where none is."
  (let* ((status (lambda (providers)
                   `(:version "0.1.0" :model "m" :queue (:running 0 :queued 0) :sessions (:open 0)
                     :apiKeyConfigured t :usage (:requests 4) ,@(and providers (list :providers providers)))))
         (lines (split-string
                 (efrit-lsp--status-text
                  (funcall status '(:openai (:requests 3 :inputTokens 12400 :outputTokens 800 :cacheReadTokens 30000
                                             :cacheWriteTokens 2000 :usd 0.0213 :unpricedRequests 1)
                                    :anthropic (:requests 1 :inputTokens 900 :outputTokens 40 :cacheReadTokens 0
                                                :cacheWriteTokens 0 :usd 0 :unpricedRequests 1))))
                 "\n")))
    (should (equal (cdr lines)
                   '("  anthropic: 1 request · tokens in 900, out 40 · no price known (tokens only)"
                     "  openai: 3 requests · tokens in 44400 (30000 from the cache), out 800 · $0.0213 (+1 call with no known price)")))
    (should (equal (efrit-lsp--status-text (funcall status nil))
                   (efrit-lsp--status-line (funcall status nil))))))

(ert-deftest efrit-chat-header-counts-the-turns ()
  "The chat header says new conversation until a reply came, then counts turns."
  (with-temp-buffer
    (efrit-lsp-chat-mode)
    (should (string-match-p "new conversation\\'" (efrit-lsp--chat-header)))
    (setq efrit-lsp--chat-session "session-1" efrit-lsp--chat-turns 1)
    (should (string-match-p "conversation of 1 turn; the next message continues it\\'" (efrit-lsp--chat-header)))
    (efrit-lsp--chat-forget-session)
    (should (string-match-p "new conversation\\'" (efrit-lsp--chat-header)))))

(ert-deftest efrit-eglot-capability-uses-eglot-server-capable-where-eglot-has-it ()
  "Eglot 1.16's public `eglot-server-capable' answers for the buffer's own server.
Any other server, and Eglot 1.9 (which lacks it), is read from the
server object."
  (cl-letf (((symbol-function 'eglot-server-capable) (lambda (&rest path) (cons 'public path)))
            ((symbol-function 'eglot-managed-p) (lambda () t))
            ((symbol-function 'eglot-current-server) (lambda () 'this-buffers-server))
            ((symbol-function 'eglot--capabilities) (lambda (_server) '(:executeCommandProvider (:commands ["efrit.runAction"])))))
    (should (equal (efrit-lsp-eglot--capability 'this-buffers-server '(:executeCommandProvider :commands))
                   '(public :executeCommandProvider :commands)))
    (should (equal (efrit-lsp-eglot--capability 'another-server '(:executeCommandProvider :commands))
                   ["efrit.runAction"])))
  (unless (fboundp 'eglot-server-capable)   ; Eglot 1.9, as on Debian 12
    (cl-letf (((symbol-function 'eglot--capabilities) (lambda (_server) '(:inlineCompletionProvider t))))
      (should (eq (efrit-lsp-eglot--capability 'any-server '(:inlineCompletionProvider)) t)))))

(ert-deftest efrit-eglot-knows-the-efrit-commands-in-what-eglot-executes ()
  "Commands, ExecuteCommandParams and edit-less CodeActions of efrit run asynchronously."
  (let ((arguments [(:actionId "explain")]))
    (should (equal (efrit-lsp-eglot--efrit-command (list :title "Efrit: Explain" :command "efrit.runAction" :arguments arguments))
                   (list :command "efrit.runAction" :arguments arguments)))
    (should (equal (efrit-lsp-eglot--efrit-command (list :command "efrit.applyJob" :arguments [(:jobId "job-1")]))
                   '(:command "efrit.applyJob" :arguments [(:jobId "job-1")])))
    (should (equal (efrit-lsp-eglot--efrit-command
                    (list :title "Efrit: Explain" :kind "refactor"
                          :command (list :title "Efrit: Explain" :command "efrit.runAction" :arguments arguments)))
                   (list :command "efrit.runAction" :arguments arguments)))
    (should-not (efrit-lsp-eglot--efrit-command (list :title "Organize imports" :command "pylsp.organize")))
    (should-not (efrit-lsp-eglot--efrit-command
                 (list :title "Efrit: Fix" :edit '(:changes nil)
                       :command (list :command "efrit.runAction" :arguments arguments))))))

(efrit-test-run-ert)

;;; efrit-package-test.el ends here
