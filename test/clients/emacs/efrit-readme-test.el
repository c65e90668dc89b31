;;; efrit-readme-test.el --- the init of clients/emacs/README.md, as written, under emacs -Q  -*- lexical-binding: t -*-

;; Run by test/clients/emacs-readme.test.ts:
;;   emacs --batch -Q -l INIT -l test/clients/emacs/efrit-readme-test.el
;; where INIT is one elisp block of clients/emacs/README.md, taken from
;; the file with only /path/to/efrit-lsp replaced by the checkout, and
;; `efrit-lsp' on PATH starting the built server.  EFRIT_TEST_README_CLIENT
;; says which block: "eglot" or "lsp-mode".  Nothing here may load a
;; package before the init has run: what the init loaded is recorded
;; first, then the test support is loaded and the ert tests run.

;;; Code:

(defvar efrit-test-after-init
  (list :eglot (featurep 'eglot) :lsp-mode (featurep 'lsp-mode)
        :efrit (featurep 'efrit-lsp) :efrit-lsp-mode (featurep 'efrit-lsp-mode)
        :command (and (boundp 'efrit-lsp-server-command) efrit-lsp-server-command)
        :key (key-binding (kbd "C-c e e")))
  "What the README's init had loaded and bound, before anything else ran.")

(defconst efrit-test-readme-client (getenv "EFRIT_TEST_README_CLIENT"))

(load (expand-file-name "efrit-test-support.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)

(setq eglot-confirm-server-initiated-edits nil
      eglot-sync-connect t
      eglot-connect-timeout 60
      eglot-autoreconnect nil)
(when (equal efrit-test-readme-client "lsp-mode")
  ;; What M-x lsp asks interactively (the project root) is answered here.
  (setq lsp-auto-guess-root t
        lsp-enabled-clients '(efrit-lsp)
        lsp-restart 'ignore
        lsp-session-file (expand-file-name "lsp-session" (getenv "HOME"))))

(defun efrit-test-readme-visit ()
  "Visit the fixture and connect it the way the README says; return the buffer."
  (let ((buffer (find-file-noselect (getenv "EFRIT_TEST_FILE"))))
    (with-current-buffer buffer
      (unless (efrit-lsp--efrit-server-p (efrit-lsp--buffer-server))
        (if (equal efrit-test-readme-client "lsp-mode")
            (lsp)
          (call-interactively #'eglot)))
      (efrit-test-wait (lambda () (efrit-lsp--efrit-server-p (efrit-lsp--buffer-server)))
                       "the connection" 60)
      (setq efrit-test-server (efrit-lsp--buffer-server)))
    buffer))

(ert-deftest efrit-readme-init-loads-the-package-under-emacs-q ()
  "The README's init loads the LSP client and efrit-lsp, and binds the key map."
  (should (equal efrit-test-after-init
                 (if (equal efrit-test-readme-client "lsp-mode")
                     (list :eglot t :lsp-mode t :efrit t :efrit-lsp-mode t
                           :command '("efrit-lsp" "--stdio") :key 'efrit-lsp-explain)
                   (list :eglot t :lsp-mode nil :efrit t :efrit-lsp-mode nil
                         :command '("efrit-lsp" "--stdio") :key 'efrit-lsp-explain)))))

(ert-deftest efrit-readme-init-connects-to-the-server-on-path ()
  "The client the README sets up starts `efrit-lsp --stdio' from PATH and connects."
  (with-current-buffer (efrit-test-readme-visit)
    (should (eq major-mode 'js-mode))
    (should (string-match-p "claude" (plist-get (efrit-lsp-status) :model)))))

(ert-deftest efrit-readme-explain-from-the-key-map-streams-its-text ()
  "C-c e e on a function explains it into *efrit-output*."
  (with-current-buffer (efrit-test-readme-visit)
    (goto-char (point-min))
    (re-search-forward "^function subtotal")
    (call-interactively (key-binding (kbd "C-c e e")))
    (efrit-test-wait (lambda () (null (efrit-lsp--live-jobs))) "the explanation" 60)
    (should (string-match-p "── Efrit: Explain (cart\\.js, lines [0-9]+–[0-9]+) ──\n`subtotal` adds up price × quantity\\.\n"
                            (efrit-test-buffer-text efrit-lsp-output-buffer-name)))))

(efrit-test-run-ert)

;;; efrit-readme-test.el ends here
