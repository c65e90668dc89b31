;;; efrit-proxy-test.el --- efrit-lsp.el in proxy mode, in front of pylsp  -*- lexical-binding: t -*-

;; Run by test/clients/emacs-proxy.test.ts:
;;   emacs --batch -Q -l test/clients/emacs/efrit-proxy-test.el
;; with the environment:
;;   EFRIT_TEST_CLIENT_DIR  the folder of efrit-lsp.el
;;   EFRIT_TEST_SERVER      the efrit-lsp command, as a JSON array of strings
;;   EFRIT_TEST_FILE        the Python file (inside a temp project); each
;;                          test works in its own copy of it
;;   EFRIT_TEST_EVENTS_LOG  where to write Eglot's JSON-RPC log on failure
;; Sets `efrit-lsp-wrapped-servers' to ((python-mode . ("pylsp"))), so
;; Eglot starts efrit-lsp --wrap -- pylsp.  One ert test per behaviour on
;; that one server, one "EFRIT-ERT <json>" line each; after them, the
;; shutdown, whose leftovers the TypeScript side looks for with ps.

;;; Code:

(load (expand-file-name "efrit-test-support.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)

(defun efrit-test-diagnostics ()
  "The texts of Flymake's diagnostics in the current buffer."
  (mapcar #'flymake-diagnostic-text (flymake-diagnostics)))

(defun efrit-test-diagnostic (text)
  "Flymake's diagnostic whose text contains TEXT, or nil."
  (cl-find-if (lambda (d) (string-match-p (regexp-quote text) (flymake-diagnostic-text d)))
              (flymake-diagnostics)))

(defun efrit-test-jobs-idle ()
  "Non-nil when no efrit request of ours is in flight."
  (null (efrit-lsp--live-jobs)))

(defun efrit-test-children (pid)
  "The processes whose parent is PID, as a list of (PID . ARGS)."
  (cl-loop for line in (ignore-errors (process-lines "ps" "--ppid" (number-to-string pid) "-o" "pid=,args="))
           when (string-match "^ *\\([0-9]+\\) +\\(.*\\)$" line)
           collect (cons (string-to-number (match-string 1 line)) (match-string 2 line))))

(efrit-test-configure '(js-mode))
(setq eglot-connect-timeout 60 ; pylsp starts too
      efrit-lsp-wrapped-servers '((python-mode . ("pylsp"))))
(setq efrit-lsp-initialization-options
      ;; One project check, pyflakes, for the agent's run_check (asked for first).
      (append efrit-lsp-initialization-options
              `(:agent (:commands (:lint [,(or (executable-find "pyflakes3") "pyflakes") "lint.py"])))))
(efrit-lsp-setup)
(efrit-test-emit "PYTHON-CONTACT" (cdr (assq 'python-mode eglot-server-programs)))

(defun efrit-test-visit (name)
  "Visit a fresh copy of the fixture as NAME, managed by Eglot; return its buffer.
The first one starts efrit-lsp in front of pylsp; the others join it."
  (let ((buffer (efrit-test-fixture-copy name)))
    (with-current-buffer buffer
      (unless (eq major-mode 'python-mode) (efrit-test-fail "major mode is %s" major-mode))
      (unless (or eglot--managed-mode (eglot-current-server))
        ;; batch Emacs has no command loop for eglot-ensure: connect directly.
        (apply #'eglot (eglot--guess-contact)))
      (efrit-test-wait (lambda () (and eglot--managed-mode (eglot-current-server))) "the connection" 60)
      (setq efrit-test-server (eglot-current-server))
      ;; Flymake defers its first run to post-command-hook, which batch never runs.
      (flymake-start))
    buffer))

(ert-deftest efrit-proxy-eglot-runs-efrit-lsp-in-front-of-pylsp ()
  "Python buffers get efrit-lsp --wrap -- pylsp, named for both, with efrit's settings."
  (with-current-buffer (efrit-test-visit "connect.py")
    (let ((process (jsonrpc--process efrit-test-server)))
      (should (equal (last (process-command process) 3) '("--wrap" "--" "pylsp")))
      (should (string-prefix-p "efrit-lsp + pylsp" (plist-get (eglot--server-info efrit-test-server) :name)))
      (should (efrit-lsp--efrit-server-p efrit-test-server))
      (should (equal (plist-get (efrit-lsp-status) :model) "claude-emacs-test"))
      (efrit-test-emit "CONNECTED" (list :command (vconcat (process-command process))
                                         :pid (process-id process))))))

(ert-deftest efrit-proxy-eglot-declares-it-can-ask-the-user ()
  "Eglot 1.9 answers window/showMessageRequest without declaring it; for efrit-lsp, the package declares it.
efrit-lsp asks before running `agent.commands' checks only where the client says it can ask."
  (with-current-buffer (efrit-test-visit "ask.py")
    (let ((window (plist-get (eglot-client-capabilities efrit-test-server) :window)))
      (should (equal (plist-get window :showMessage)
                     '(:messageActionItem (:additionalPropertiesSupport :json-false)))))
    ;; Eglot's own capabilities are kept beside it.
    (should (plist-get (plist-get (plist-get (eglot-client-capabilities efrit-test-server) :workspace) :workspaceEdit)
                       :documentChanges))))

(ert-deftest efrit-proxy-a-check-asks-the-user-through-eglot-then-runs ()
  "The agent's run_check: efrit-lsp asks through Eglot's showMessageRequest; allowed once, pyflakes runs.
The TypeScript side's agent (lintAgent in emacs-proxy.test.ts) calls run_check lint, then answers."
  (let ((asked nil))
    (with-current-buffer (efrit-test-visit "lint.py")
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (prompt collection &rest _)
                   (push (list prompt collection) asked)
                   "Allow once")))
        (efrit-lsp-do "CHECK-PY does pyflakes find anything here?" (point-min) (point-min))
        (efrit-test-wait #'efrit-test-jobs-idle "the agent's answer" 120)))
    (should (= (length asked) 1))
    (pcase-let ((`(,prompt ,choices) (car asked)))
      (should (string-match-p "lint" prompt))
      (should (equal choices '("Allow once" "Always for this workspace" "Deny"))))
    (should (string-match-p "pyflakes finds the unused import of os"
                            (efrit-test-buffer-text efrit-lsp-output-buffer-name)))))

(ert-deftest efrit-proxy-pylsp-diagnostics-reach-flymake ()
  "pyflakes' diagnostic comes from pylsp through efrit-lsp into Flymake."
  (with-current-buffer (efrit-test-visit "diagnostics.py")
    (efrit-test-wait (lambda () (efrit-test-diagnostic "'os' imported but unused"))
                     "pyflakes' diagnostic in Flymake" 60)))

(ert-deftest efrit-proxy-pylsp-hover-and-completion-work-through-it ()
  "Hover on a stdlib function and completion of json.du come from pylsp."
  (with-current-buffer (efrit-test-visit "hover.py")
    (goto-char (point-min))
    (search-forward "json.loa")
    (let ((hover (jsonrpc-request efrit-test-server :textDocument/hover
                                  (eglot--TextDocumentPositionParams) :timeout 10)))
      (should (string-match-p "loads\\|JSON" (format "%S" (plist-get hover :contents)))))
    (goto-char (point-max))
    (insert "json.du")
    (let ((capf (eglot-completion-at-point)))
      (should (cl-subsetp '("dump" "dumps") (and capf (all-completions "" (nth 2 capf))) :test #'equal)))
    (delete-region (- (point-max) (length "json.du")) (point-max))
    (efrit-test-check-sync "AFTER-COMPLETION")))

(ert-deftest efrit-proxy-efrit-fix-for-a-pylsp-diagnostic-fixes-it ()
  "\"Efrit: Fix: …\" for pyflakes' diagnostic, from Eglot's menu, removes the import."
  (with-current-buffer (efrit-test-visit "fix.py")
    (efrit-test-wait (lambda () (efrit-test-diagnostic "'os' imported but unused"))
                     "pyflakes' diagnostic in Flymake" 60)
    (let* ((diag (efrit-test-diagnostic "'os' imported but unused"))
           (last-nonmenu-event ?\r) ; else Eglot pops an x-popup-menu
           (picked nil))
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (_prompt collection &rest _)
                   (setq picked (cl-find-if (lambda (title) (string-prefix-p "Efrit: Fix: " title))
                                            (mapcar #'car collection)))
                   (or picked (caar collection)))))
        (eglot-code-actions (flymake-diagnostic-beg diag) (flymake-diagnostic-end diag) nil t))
      (should (equal picked "Efrit: Fix: 'os' imported but unused")))
    (efrit-test-wait (lambda () (not (string-match-p "^import os$" (efrit-test-buffer-text (current-buffer)))))
                     "the fix edit" 60)
    (efrit-test-wait #'efrit-test-jobs-idle "the fix's answer")
    (efrit-test-check-sync "AFTER-FIX")
    ;; pylsp saw the edit through the proxy: it lints again, without the 'os' diagnostic.
    (eglot--signal-textDocument/didChange)
    (flymake-start)
    (efrit-test-wait (lambda () (not (efrit-test-diagnostic "'os' imported but unused")))
                     "pylsp re-linting the fixed text" 60)
    (should (string-prefix-p "import json\n" (efrit-test-buffer-text (current-buffer))))))

(ert-deftest efrit-proxy-chat-works-in-front-of-pylsp ()
  "A chat about a function, through the proxy."
  (with-current-buffer (efrit-test-visit "chat.py")
    (goto-char (point-min))
    (re-search-forward "^def load")
    (let ((chat (efrit-lsp-chat "CHAT-PY What does load do?" (match-beginning 0) (point-max))))
      (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the chat reply" 60)
      (should (string-match-p "You: CHAT-PY What does load do\\?\n[^\0]*Efrit: `load` opens the file and parses its JSON\\.\n\n\\'"
                              (efrit-test-buffer-text chat))))
    (goto-char (point-max))
    (insert "\n\nprint(load(\"data.json\"))\n")
    (efrit-test-check-sync "FINAL")))

(defun efrit-test-do-with-references (buffer before published)
  "In BUFFER (holding BEFORE), the do of the test below, its review, its checks.
PUBLISHED returns what Eglot was told of so far, as (URI MESSAGES) lists."
  (with-current-buffer buffer
    (efrit-test-wait (lambda () (efrit-test-diagnostic "'os' imported but unused"))
                     "pyflakes' diagnostic in Flymake" 60)
    (efrit-lsp-do "DO-PY rename handle to stream in load" (point-min) (point-min))
    (efrit-test-wait #'efrit-test-jobs-idle "the agent's proposal" 120))
  (let ((review (get-buffer efrit-lsp-review-buffer-name)))
    (unless (and review (buffer-local-value 'efrit-lsp--review review))
      (efrit-test-fail "no review buffer; the output says:\n%s"
                       (efrit-test-buffer-text efrit-lsp-output-buffer-name)))
    (with-current-buffer review
      (should (string-match-p "^\\+    with open(path) as stream:$" (buffer-string)))
      (should (string-match-p "^\\+        return json.loads(stream.read())$" (buffer-string))))
    ;; Proposed, not applied: neither the refused edit nor the fixed one yet.
    (should (equal (efrit-test-buffer-text buffer) before))
    (with-current-buffer review (efrit-test-key "C-c C-c"))
    (should (eq (efrit-test-settle review) 'accepted))
    (efrit-test-finish-review review))
  (let ((fixed (replace-regexp-in-string "handle" "stream" before t t)))
    (should (equal (efrit-test-buffer-text buffer) fixed))
    (with-current-buffer buffer
      (save-buffer)
      (should (equal (efrit-test-disk "store/refs.py") fixed))
      (efrit-test-check-sync "AFTER-DO")
      ;; pylsp lints the landed text: the unused import is still there, and
      ;; the shadow's "undefined name" (the refused edit) never reached the user.
      (eglot--signal-textDocument/didChange)
      (flymake-start)
      (efrit-test-wait (lambda () (efrit-test-diagnostic "'os' imported but unused"))
                       "pylsp re-linting the landed text" 60)
      (should-not (cl-find-if (lambda (text) (string-match-p "undefined name" text))
                              (efrit-test-diagnostics)))
      ;; Eglot was never told of the shadow, for this file or any other.
      (should (cl-find-if (lambda (entry) (string-suffix-p "/refs.py" (car entry))) (funcall published)))
      (should-not (cl-find-if (lambda (entry) (string-match-p "efrit-check" (car entry))) (funcall published)))
      (should-not (cl-find-if (lambda (entry) (cl-find-if (lambda (m) (string-match-p "undefined name" m)) (cadr entry)))
                              (funcall published))))))

;; The TypeScript side's agent (renameHandleAgent in emacs-proxy.test.ts) asks
;; pylsp for the references of load, proposes a rename of handle that misses
;; its use (pyflakes: undefined name), is refused, and proposes the whole one.
(ert-deftest efrit-proxy-do-with-references-lands-only-the-checked-edit ()
  "`efrit-lsp-do' in front of pylsp: the refused edit never shows; the fixed one is reviewed and lands."
  (let* ((buffer (efrit-test-visit "refs.py"))
         (before (efrit-test-buffer-text buffer))
         (published nil)
         (record (lambda (_server method &rest params)
                   ;; Every diagnostic Eglot is told of, for any file: what the user could see.
                   (when (eq method 'textDocument/publishDiagnostics)
                     (push (list (plist-get params :uri)
                                 (mapcar (lambda (d) (plist-get d :message)) (plist-get params :diagnostics)))
                           published)))))
    (advice-add 'eglot-handle-notification :before record)
    (unwind-protect
        (efrit-test-do-with-references buffer before (lambda () published))
      (advice-remove 'eglot-handle-notification record))))

;; Last: shutdown takes pylsp down with efrit-lsp (checked from outside by ps).
(add-hook 'efrit-test-after-ert-hook
          (lambda ()
            (when (and efrit-test-server (jsonrpc-running-p efrit-test-server))
              (let ((process (jsonrpc--process efrit-test-server)))
                (efrit-test-emit "CHILDREN" (vconcat (mapcar (lambda (c) (vector (car c) (cdr c)))
                                                             (efrit-test-children (process-id process)))))
                (dolist (buffer (buffer-list))
                  (with-current-buffer buffer (set-buffer-modified-p nil)))
                (eglot-shutdown efrit-test-server)
                (efrit-test-wait (lambda () (not (process-live-p process))) "efrit-lsp to exit" 60)
                (efrit-test-emit "SHUT-DOWN" t)))))

(efrit-test-run-ert)

;;; efrit-proxy-test.el ends here
