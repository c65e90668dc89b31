;;; efrit-streams-test.el --- streams tied to their requests, in a real, headless Emacs  -*- lexical-binding: t -*-

;; Run by test/clients/emacs.test.ts like efrit-test.el (same environment),
;; on a server that makes one model call at a time, against a fake API
;; that holds replies to order them.  One ert test per behaviour, each in
;; its own copy of the fixture; one "EFRIT-ERT <json>" line per test.

;;; Code:

(load (expand-file-name "efrit-test-support.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)

(defvar efrit-test-notes nil "Every efrit/stream note, newest first: [JOB STREAM KIND].")
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
(efrit-lsp-setup)

(defun efrit-test-visit (name)
  "Visit a fresh copy of the fixture as NAME, managed by Eglot; return its buffer."
  (efrit-test-eglot-visit name 'js-mode))

(defun efrit-test-section-from (heading)
  "The output buffer's text from its last line starting with HEADING on."
  (let ((text (efrit-test-buffer-text efrit-lsp-output-buffer-name)))
    (substring text (or (string-match (concat "^" (regexp-quote heading) "[^\0]*\\'") text)
                        (efrit-test-fail "no %s in the output:\n%s" heading text)))))

(ert-deftest efrit-streams-each-text-stays-in-its-own-section-whatever-the-order ()
  "A chat and two explanations in flight: every note names its stream, each text its place."
  (with-current-buffer (efrit-test-visit "streams.js")
    (setq efrit-test-notes nil efrit-test-snapshots nil)
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
      (with-current-buffer chat (efrit-lsp-cancel))
      (efrit-test-wait #'efrit-test-jobs-idle "both explanations" 60)
      (should (string-match-p "You: STREAMS-CHAT Which function rounds\\?\n[^\0]*\nEfrit: \\[cancelled\\]\n\n\\'"
                              (efrit-test-buffer-text chat))))
    (let* ((notes (reverse efrit-test-notes))
           (streams (mapcar (lambda (note) (aref note 1)) notes))
           (sent (sort (delete-dups (copy-sequence streams))
                       (lambda (a b) (< (string-to-number (car (last (split-string a "-"))))
                                        (string-to-number (car (last (split-string b "-")))))))))
      ;; Every note named its request's stream, the first one included.
      (should (>= (length notes) 8))
      (should (cl-every (lambda (stream) (and (stringp stream) (string-prefix-p "emacs-" stream))) streams))
      (should (= (length sent) 3))
      ;; Sent in the order chat, first, second; the second heard first ("queued (1 ahead)").
      (should (equal (car streams) (nth 0 sent)))
      (should (< (cl-position (nth 2 sent) streams :test #'equal)
                 (cl-position (nth 1 sent) streams :test #'equal))))
    ;; While the texts streamed, each stayed in its own section.
    (let ((second-heading "── Efrit: Explain (streams.js, lines 14–"))
      (should (cl-some (lambda (s) (and (string-match-p "`subtotal` adds price × quantity\\." s)
                                        (not (string-match-p "`total` takes off" s))))
                       efrit-test-snapshots))
      (dolist (snapshot efrit-test-snapshots)
        (let ((split (string-match (regexp-quote second-heading) snapshot)))
          (should split)
          (should-not (string-match-p "`total` takes off" (substring snapshot 0 split)))
          (should-not (string-match-p "`subtotal` adds" (substring snapshot split)))
          (should-not (string-match-p "Efrit job" snapshot)))))
    (should (string-prefix-p
             (concat "── Efrit: Explain (streams.js, lines 6–12) ──\n`subtotal` adds price × quantity.\n\n"
                     "── Efrit: Explain (streams.js, lines 14–18) ──\n`total` takes off the coupon and adds tax.\n")
             (efrit-test-section-from "── Efrit: Explain (streams.js, lines 6–12) ──")))))

(ert-deftest efrit-streams-the-server-ending-an-older-explanation-is-said-where-it-was ()
  "An explanation superseded by a newer one of the same lines: its section and the echo area say so."
  (with-current-buffer (efrit-test-visit "superseded.js")
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
    (efrit-test-wait #'efrit-test-jobs-idle "the newer explanation" 60)
    (should (equal (efrit-test-section-from "── Efrit: Explain (superseded.js, line 4) ──")
                   (concat "── Efrit: Explain (superseded.js, line 4) ──\n"
                           "[the server cancelled it: Superseded by a newer request for the same thing.]\n\n"
                           "── Efrit: Explain (superseded.js, line 4) ──\nThe tax rate, as a fraction.\n")))
    (should (member "efrit: Explain: the server cancelled it: Superseded by a newer request for the same thing."
                    efrit-test-messages))))

(efrit-test-run-ert)

;;; efrit-streams-test.el ends here
