;;; efrit-streams-test.el --- streams tied to their requests, in a real, headless Emacs  -*- lexical-binding: t -*-

;; Run by test/clients/emacs.test.ts like efrit-test.el (same environment),
;; against a fake API that holds replies to order them:
;;   1. a chat and two explanations at once, with one model call at a time:
;;      the chat holds the slot, the first explanation waits silently and
;;      the second is told "queued (1 ahead)" before the first hears
;;      anything; the chat is cancelled, then both explanations stream.
;;      Each text must land in its own place, from the first note on;
;;   2. an explanation superseded by a newer one of the same lines (the
;;      server ends the older job): its section says so, and the newer answers.
;; Prints "EFRIT-TEST <key> <json>" lines; exits 0 when every step passed.

;;; Code:

(load (expand-file-name "efrit-test-support.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)

(defvar efrit-test-notes nil "Every efrit/stream note, newest first: (JOB STREAM KIND).")
(defvar efrit-test-snapshots nil "The output buffer each time a text note arrived, newest first.")
(defvar efrit-test-messages nil "The echo-area messages from efrit, newest first.")

(advice-add 'message :filter-return
            (lambda (text)
              (when (and (stringp text) (string-prefix-p "efrit:" text))
                (push text efrit-test-messages))
              text))
(advice-add 'efrit-lsp--on-stream :after
            (lambda (_server job-id _session-id stream-id kind text)
              (efrit-test-log "efrit/stream %s %s %s %S" job-id stream-id kind text)
              (push (vector job-id stream-id kind) efrit-test-notes)
              (when (equal kind "text")
                (push (efrit-test-buffer-text efrit-lsp-output-buffer-name) efrit-test-snapshots))))

(defun efrit-test-jobs-idle ()
  "Non-nil when no efrit request of ours is in flight."
  (null (efrit-lsp--live-jobs)))

(efrit-test-configure '(js-mode))
(setq efrit-lsp-initialization-options
      (append efrit-lsp-initialization-options '(:queue (:concurrency 1))))

(condition-case err
    (let ((file (getenv "EFRIT_TEST_FILE")))
      (efrit-lsp-setup)
      (with-current-buffer (find-file-noselect file)
        (eglot-ensure)
        (run-hooks 'post-command-hook)
        (unless (or eglot--managed-mode
                    (cl-some (lambda (p) (string-prefix-p "EGLOT" (process-name p))) (process-list)))
          (apply #'eglot (eglot--guess-contact)))
        (efrit-test-wait (lambda () (and eglot--managed-mode (eglot-current-server))) "the connection" 15)
        (setq efrit-test-server (eglot-current-server))

        ;; 1. A chat and two explanations in flight together.
        (let* ((first (efrit-test-bounds "^function subtotal" "^}\n"))
               (second (efrit-test-bounds "^function total" "^}\n"))
               (chat (efrit-lsp-chat "STREAMS-CHAT Which function rounds?" (point-min) (point-min)))
               (queued (lambda () (plist-get (plist-get (efrit-lsp-status) :queue) :queued))))
          (efrit-test-wait (lambda () (cl-some (lambda (note) (equal (aref note 2) "status")) efrit-test-notes))
                           "the chat to ask the model")
          (efrit-lsp-explain (car first) (cadr first))
          (efrit-test-wait (lambda () (eql (funcall queued) 1)) "the first explanation to wait")
          (efrit-lsp-explain (car second) (cadr second))
          (efrit-test-wait (lambda () (eql (funcall queued) 2)) "the second explanation to wait")
          (efrit-test-wait (lambda () (equal (aref (car efrit-test-notes) 2) "status")) "the second one's queued note")
          (with-current-buffer chat (efrit-lsp-cancel)))
        (efrit-test-wait #'efrit-test-jobs-idle "both explanations" 15)
        (efrit-test-emit "CHAT-BUFFER" (efrit-test-buffer-text efrit-lsp-chat-buffer-name))
        (efrit-test-emit "NOTES" (vconcat (reverse efrit-test-notes)))
        (efrit-test-emit "SNAPSHOTS" (vconcat (reverse efrit-test-snapshots)))
        (efrit-test-emit "OUTPUT-AFTER-BOTH" (efrit-test-buffer-text efrit-lsp-output-buffer-name))

        ;; 2. The older of two explanations of the same lines is ended by the server.
        (let ((lines (efrit-test-bounds "^const TAX_RATE" ";\n"))
              (seen (length efrit-test-notes)))
          (efrit-lsp-explain (car lines) (cadr lines))
          (efrit-test-wait (lambda () (> (length efrit-test-notes) seen))
                           "the older explanation to ask the model")
          ;; The user types below it, then asks again about the same lines.
          (save-excursion
            (goto-char (point-max))
            (insert "// end of cart.js\n"))
          (efrit-lsp-explain (car lines) (cadr lines)))
        (efrit-test-wait #'efrit-test-jobs-idle "the newer explanation" 15)
        (efrit-test-emit "OUTPUT-AFTER-SUPERSEDED" (efrit-test-buffer-text efrit-lsp-output-buffer-name))
        (efrit-test-emit "MESSAGES" (vconcat (reverse efrit-test-messages)))

        (set-buffer-modified-p nil)
        (eglot-shutdown efrit-test-server)
        (efrit-test-emit "OK" (- (float-time) efrit-test-t0))
        (kill-emacs 0)))
  (error (efrit-test-fail "error: %S" err)))

;;; efrit-streams-test.el ends here
