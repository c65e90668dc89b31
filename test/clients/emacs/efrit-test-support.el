;;; efrit-test-support.el --- what the headless Emacs client tests share  -*- lexical-binding: t -*-

;; Loaded by the client test scripts (test/clients/emacs/*-test.el):
;; Debian's elpa folder
;; (which -Q hides), efrit-lsp.el from EFRIT_TEST_CLIENT_DIR, and the
;; helpers that log, print "EFRIT-TEST <key> <json>" lines for the
;; TypeScript side, signal it that a state was seen, fail with Eglot's
;; events saved, wait, check the server's copy of the buffer, and set
;; eglot up for a headless run.

;;; Code:

(require 'package)
;; -Q implies --no-site-lisp, which hides Debian's elpa folder (eglot 1.9).
(setq package-directory-list '("/usr/share/emacs/site-lisp/elpa"))
(package-initialize)
(require 'cl-lib)
(require 'json)
(require 'ert)
(require 'eglot)
(require 'flymake)
(add-to-list 'load-path (getenv "EFRIT_TEST_CLIENT_DIR"))
(require 'efrit-lsp)

(defvar efrit-test-t0 (float-time))
(defvar efrit-test-server nil)

(defun efrit-test-log (fmt &rest args)
  "Log FMT with ARGS to stderr, with the time since the start."
  (message "efrit-test [%6.3fs] %s" (- (float-time) efrit-test-t0) (apply #'format fmt args)))

(defun efrit-test-emit (key value)
  "Print KEY and VALUE (as one line of JSON) on stdout for the test to read."
  (efrit-test-log "%s" key)
  (princ (format "EFRIT-TEST %s %s\n" key (json-encode value))))

(defun efrit-test-signal (name)
  "Tell the TypeScript side that the state NAME was seen.
It holds the fake API's reply until then (test/clients/script-signals.ts):
the line goes to stderr, which batch `message' writes out at once."
  (message "EFRIT_SIGNAL %s" name))

(defvar efrit-test--ert nil
  "Non-nil while `efrit-test-run-ert' runs the tests.
A failure then fails the one test, and the others still run.")

(defun efrit-test-fail (fmt &rest args)
  "Report a failure (FMT with ARGS) and save Eglot's events.
Under `efrit-test-run-ert', fail the running test; else exit 1."
  (let ((text (apply #'format fmt args)))
    (message "efrit-test FAIL: %s" text)
    (when (and (cl-typep efrit-test-server 'jsonrpc-connection) (getenv "EFRIT_TEST_EVENTS_LOG"))
      (with-current-buffer (jsonrpc-events-buffer efrit-test-server)
        (write-region nil nil (getenv "EFRIT_TEST_EVENTS_LOG"))))
    (if efrit-test--ert
        (ert-fail text)
      (efrit-test-emit "FAIL" text)
      (kill-emacs 1))))

(defun efrit-test--ert-line (test result)
  "Print the \"EFRIT-ERT <json>\" line of TEST's RESULT for the TypeScript side."
  (let ((status (cond ((ert-test-passed-p result) "passed")
                      ((ert-test-skipped-p result) "skipped")
                      (t "failed")))
        (detail (and (ert-test-result-with-condition-p result)
                     (format "%S" (ert-test-result-with-condition-condition result)))))
    (princ (format "EFRIT-ERT %s\n"
                   (json-encode (list :name (symbol-name (ert-test-name test))
                                      :status status
                                      :message (and detail (substring detail 0 (min 4000 (length detail))))))))))

(defvar efrit-test-after-ert-hook nil
  "Run after the ert tests, before Emacs exits: what must come last (a shutdown).")

(defun efrit-test-run-ert ()
  "Run every ert test defined, one \"EFRIT-ERT <json>\" line each, then exit 0.
test/clients/emacs-runner.ts maps each line to a vitest case of that name.
Before exiting, `efrit-test-after-ert-hook' runs."
  (setq efrit-test--ert t)
  (ert-run-tests t (lambda (event &rest args)
                     (pcase event
                       ('test-started (efrit-test-log "ert: %s" (ert-test-name (nth 1 args))))
                       ('test-ended (efrit-test--ert-line (nth 1 args) (nth 2 args))))))
  (setq efrit-test--ert nil)
  (run-hooks 'efrit-test-after-ert-hook)
  (kill-emacs 0))

(defun efrit-test-fixture-copy (name)
  "Visit NAME, a fresh copy of EFRIT_TEST_FILE beside it, and return its buffer.
Each test works in its own file, so none depends on what another did."
  (let* ((fixture (getenv "EFRIT_TEST_FILE"))
         (file (expand-file-name name (file-name-directory fixture))))
    (copy-file fixture file t)
    (find-file-noselect file)))

(defun efrit-test-wait (pred what &optional timeout)
  "Process events until PRED holds; fail naming WHAT after TIMEOUT seconds."
  (let ((deadline (+ (float-time) (or timeout 60))))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.02))
    (or (funcall pred) (efrit-test-fail "timed out waiting for %s" what))))

(defun efrit-test-bounds (start-re end-re)
  "Bounds from the match of START-RE to the end of the next match of END-RE."
  (save-excursion
    (goto-char (point-min))
    (unless (re-search-forward start-re nil t) (efrit-test-fail "no %s in the buffer" start-re))
    (let ((beg (match-beginning 0)))
      (unless (re-search-forward end-re nil t) (efrit-test-fail "no %s after %s" end-re start-re))
      (list beg (match-end 0)))))

(defun efrit-test-buffer-text (buffer)
  "BUFFER's text without properties."
  (with-current-buffer buffer (buffer-substring-no-properties (point-min) (point-max))))

(defun efrit-test-check-sync (label)
  "Fail unless the server's copy of the current buffer equals it; LABEL names the step."
  (let ((copy (efrit-lsp-document-text)))
    (unless (equal (plist-get copy :text) (efrit-test-buffer-text (current-buffer)))
      (efrit-test-fail "%s: server copy differs:\n%s\n--- buffer ---\n%s"
                       label (plist-get copy :text) (efrit-test-buffer-text (current-buffer))))
    (let ((ours (if (bound-and-true-p eglot--managed-mode)
                    eglot--versioned-identifier
                  (bound-and-true-p lsp--cur-version))))
      (unless (eql (plist-get copy :version) ours)
        (efrit-test-fail "%s: server has version %s, the client %s"
                         label (plist-get copy :version) ours)))
    (efrit-test-emit (concat "SYNC-" label) (plist-get copy :version))))

(defun efrit-test-configure (modes)
  "Set eglot and efrit up for a headless run of the server in EFRIT_TEST_SERVER, for MODES."
  (setq eglot-confirm-server-initiated-edits nil ; else y-or-n-p reads stdin
        eglot-sync-connect t
        eglot-connect-timeout 60
        eglot-autoreconnect nil
        efrit-lsp-server-command (append (json-read-from-string (getenv "EFRIT_TEST_SERVER")) nil)
        efrit-lsp-major-modes modes
        efrit-lsp-initialization-options '(:model "claude-emacs-test" :logLevel "debug")))

;; ── visiting fixtures, reading the output ──────────────────────────────

(defun efrit-test-eglot-visit (name mode)
  "Visit a fresh copy of the fixture as NAME, in MODE and managed by Eglot; return it.
The first one starts the server; the others join it."
  (let ((buffer (efrit-test-fixture-copy name)))
    (with-current-buffer buffer
      (unless (eq major-mode mode) (efrit-test-fail "%s is in %s" name major-mode))
      (unless (or eglot--managed-mode (eglot-current-server))
        ;; batch Emacs has no command loop for eglot-ensure: connect directly.
        (apply #'eglot (eglot--guess-contact)))
      (efrit-test-wait (lambda () (and eglot--managed-mode (efrit-lsp--efrit-server-p (eglot-current-server))))
                       "Eglot to manage the buffer" 60)
      (setq efrit-test-server (eglot-current-server)))
    buffer))

(defun efrit-test-output-section (heading-re)
  "The text of the output buffer's latest section whose heading matches HEADING-RE."
  (with-current-buffer efrit-lsp-output-buffer-name
    (save-excursion
      (goto-char (point-max))
      (unless (re-search-backward (concat "^── " heading-re) nil t)
        (efrit-test-fail "no section %s in the output:\n%s" heading-re (buffer-string)))
      (forward-line 1)
      (buffer-substring-no-properties (point) (if (re-search-forward "^── " nil t) (match-beginning 0) (point-max))))))

(defun efrit-test-key (keys)
  "Run the command KEYS are bound to in the current buffer, as the user typing them."
  (let ((command (key-binding (kbd keys))))
    (unless (commandp command) (efrit-test-fail "%s is bound to %S" keys command))
    (call-interactively command)))

(defun efrit-test-settle (review)
  "Wait until the change of REVIEW is decided; return its status."
  (efrit-test-wait (lambda () (memq (efrit-lsp--review-status (buffer-local-value 'efrit-lsp--review review))
                                    '(accepted rejected failed)))
                   "the decision to settle" 60)
  (let ((state (buffer-local-value 'efrit-lsp--review review)))
    (when (eq (efrit-lsp--review-status state) 'failed)
      (efrit-test-fail "the change failed: %s" (efrit-lsp--review-note state)))
    (efrit-lsp--review-status state)))

(defun efrit-test-finish-review (review)
  "Kill REVIEW, once decided."
  (with-current-buffer review (setq efrit-lsp--review nil))
  (kill-buffer review))

;; ── the rename agent's change (renameAgent in emacs-fixtures.ts) ──────

(defun efrit-test-source (path)
  "PATH in the project of EFRIT_TEST_FILE (the fixture's), as a file name."
  (expand-file-name path (file-name-directory (directory-file-name (file-name-directory (getenv "EFRIT_TEST_FILE"))))))

(defun efrit-test-disk (path)
  "The text of PATH in the fixture's project on disk, or nil when it does not exist."
  (let ((file (efrit-test-source path)))
    (and (file-exists-p file)
         (with-temp-buffer
           (let ((coding-system-for-read 'utf-8-unix)) (insert-file-contents file))
           (buffer-string)))))

(defun efrit-test-renamed (name text)
  "TEXT with total() renamed cartTotal(), as the agent of scenario NAME proposes."
  (dolist (pair `(("function total(items, coupon) {" . "function cartTotal(items, coupon) {")
                  ("module.exports = { subtotal, total };" . "module.exports = { subtotal, cartTotal };")
                  (,(format "const { total } = require('./%s-cart');" name)
                   . ,(format "const { cartTotal } = require('./%s-cart');" name))
                  ("amount: total(cart.items" . "amount: cartTotal(cart.items"))
                text)
    (setq text (string-replace (car pair) (cdr pair) text))))

(defun efrit-test-cart-test (name)
  "The test file the agent of scenario NAME creates."
  (format "const assert = require('node:assert');\nconst { cartTotal } = require('../src/%s-cart');\n\nassert.strictEqual(cartTotal([], null), 0);\n" name))

(provide 'efrit-test-support)
;;; efrit-test-support.el ends here
