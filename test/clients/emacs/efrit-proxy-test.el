;;; efrit-proxy-test.el --- efrit-lsp.el in proxy mode, in front of pylsp  -*- lexical-binding: t -*-

;; Run by test/clients/emacs-proxy.test.ts:
;;   emacs --batch -Q -l test/clients/emacs/efrit-proxy-test.el
;; with the environment:
;;   EFRIT_TEST_CLIENT_DIR  the folder of efrit-lsp.el
;;   EFRIT_TEST_SERVER      the efrit-lsp command, as a JSON array of strings
;;   EFRIT_TEST_FILE        the Python file to open (inside a temp project)
;;   EFRIT_TEST_EVENTS_LOG  where to write Eglot's JSON-RPC log on failure
;; Sets `efrit-lsp-wrapped-servers' to ((python-mode . ("pylsp"))), so
;; Eglot starts efrit-lsp --wrap -- pylsp.  Prints "EFRIT-TEST <key> <json>"
;; lines on stdout; exits 0 when every step passed.

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
(setq eglot-connect-timeout 20 ; pylsp starts too
      efrit-lsp-wrapped-servers '((python-mode . ("pylsp"))))

(condition-case err
    (let ((file (getenv "EFRIT_TEST_FILE"))
          (chat nil))
      (efrit-lsp-setup)
      (efrit-test-emit "PYTHON-CONTACT" (cdr (assq 'python-mode eglot-server-programs)))
      (with-current-buffer (find-file-noselect file)
        (unless (eq major-mode 'python-mode) (efrit-test-fail "major mode is %s" major-mode))
        ;; batch Emacs has no command loop for eglot-ensure: connect directly.
        (apply #'eglot (eglot--guess-contact))
        (efrit-test-wait (lambda () (and eglot--managed-mode (eglot-current-server))) "the connection" 20)
        (setq efrit-test-server (eglot-current-server))
        (let* ((process (jsonrpc--process efrit-test-server))
               (pid (process-id process)))
          (efrit-test-emit "CONNECTED"
                           (list :mode (symbol-name major-mode)
                                 :server (plist-get (eglot--server-info efrit-test-server) :name)
                                 :command (vconcat (process-command process))
                                 :efrit (and (efrit-lsp--efrit-server-p efrit-test-server) t)
                                 :pid pid))
          (efrit-test-emit "MODEL" (plist-get (efrit-lsp-status) :model))

          ;; 1. pyflakes' diagnostic, from pylsp through efrit-lsp, in Flymake.
          ;; Flymake defers its first run to post-command-hook, which batch never runs.
          (flymake-start)
          (efrit-test-wait (lambda () (efrit-test-diagnostic "'os' imported but unused"))
                           "pyflakes' diagnostic in Flymake" 20)
          (efrit-test-emit "DIAGNOSTICS" (vconcat (efrit-test-diagnostics)))

          ;; 2. A pylsp feature through the proxy: hover on a stdlib function.
          (goto-char (point-min))
          (search-forward "json.loa")
          (let ((hover (jsonrpc-request efrit-test-server :textDocument/hover
                                       (eglot--TextDocumentPositionParams) :timeout 10)))
            (efrit-test-emit "HOVER" (format "%S" (plist-get hover :contents))))
          ;; and completion-at-point: "json.du" completes from pylsp (jedi).
          (goto-char (point-max))
          (insert "json.du")
          (let ((capf (eglot-completion-at-point)))
            (efrit-test-emit "COMPLETIONS"
                             (vconcat (and capf (all-completions "" (nth 2 capf))))))
          (delete-region (- (point-max) (length "json.du")) (point-max))
          (efrit-test-check-sync "AFTER-COMPLETION")

          ;; 3. "Efrit: Fix: …" for that diagnostic, picked from Eglot's own menu.
          (let* ((diag (efrit-test-diagnostic "'os' imported but unused"))
                 (last-nonmenu-event ?\r) ; else Eglot pops an x-popup-menu
                 (titles nil)
                 (picked nil))
            (cl-letf (((symbol-function 'completing-read)
                       (lambda (_prompt collection &rest _)
                         (setq titles (mapcar #'car collection))
                         (setq picked (cl-find-if (lambda (title) (string-prefix-p "Efrit: Fix: " title))
                                                  titles))
                         (or picked (car titles)))))
              (eglot-code-actions (flymake-diagnostic-beg diag) (flymake-diagnostic-end diag) nil t))
            (efrit-test-emit "MENU" (vconcat titles))
            (unless picked (efrit-test-fail "no Efrit: Fix in the menu: %S" titles))
            (efrit-test-emit "PICKED" picked))
          (efrit-test-wait (lambda () (not (string-match-p "^import os$" (efrit-test-buffer-text (current-buffer)))))
                           "the fix edit" 15)
          (efrit-test-wait #'efrit-test-jobs-idle "the fix's answer")
          (efrit-test-emit "FIX-APPLIED" t)
          (efrit-test-check-sync "AFTER-FIX")
          ;; pylsp saw the edit through the proxy: it lints again, without the 'os' diagnostic.
          (eglot--signal-textDocument/didChange)
          (flymake-start)
          (efrit-test-wait (lambda () (not (efrit-test-diagnostic "'os' imported but unused")))
                           "pylsp re-linting the fixed text" 15)
          (efrit-test-emit "DIAGNOSTICS-AFTER-FIX" (vconcat (efrit-test-diagnostics)))

          ;; 4. Chat about the function.
          (goto-char (point-min))
          (re-search-forward "^def load")
          (let ((beg (match-beginning 0)))
            (setq chat (efrit-lsp-chat "CHAT-PY What does load do?" beg (point-max))))
          (efrit-test-wait (lambda () (null (efrit-lsp--chat-pending chat))) "the chat reply" 15)
          (efrit-test-emit "CHAT-BUFFER" (efrit-test-buffer-text chat))

          ;; 5. The user types; the server's copy must equal the buffer.
          (goto-char (point-max))
          (insert "\n\nprint(load(\"data.json\"))\n")
          (efrit-test-check-sync "FINAL")
          (efrit-test-emit "FINAL-BUFFER" (efrit-test-buffer-text (current-buffer)))

          ;; 6. Shutdown takes pylsp down with efrit-lsp.
          (let ((children (efrit-test-children pid)))
            (efrit-test-emit "CHILDREN" (vconcat (mapcar (lambda (c) (vector (car c) (cdr c))) children))))
          (set-buffer-modified-p nil)
          (eglot-shutdown efrit-test-server)
          (efrit-test-wait (lambda () (not (process-live-p process))) "efrit-lsp to exit" 10)
          (efrit-test-emit "OK" (- (float-time) efrit-test-t0))
          (kill-emacs 0))))
  (error (efrit-test-fail "error: %S" err)))

;;; efrit-proxy-test.el ends here
