;;; efrit-review-test.el --- reviewing efrit's multi-file changes in a real, headless Emacs  -*- lexical-binding: t -*-

;; Run by test/clients/emacs-review.test.ts:
;;   emacs --batch -Q -l test/clients/emacs/efrit-review-test.el
;; with the environment of efrit-test.el.  Two kinds of ert tests:
;; - the review buffer and Eglot's applying of a change, on a change
;;   written here as the server would send it (a `efrit-test-recorder'
;;   server records the requests, so no server runs);
;; - the whole flow against the real server and the fake Messages API:
;;   `efrit-lsp-do', the review, accept / reject / reject one file.
;; One "EFRIT-ERT <json>" line per test (`efrit-test-run-ert').

;;; Code:

(load (expand-file-name "efrit-test-support.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)

(efrit-test-configure '(js-mode))
(efrit-lsp-setup)
(setq eglot-confirm-server-initiated-edits 'confirm) ; Eglot's default: a reviewed change must not ask again

(defvar efrit-test-asked nil "The questions asked with `y-or-n-p', newest first; each answered no.")
(advice-add 'y-or-n-p :override (lambda (prompt) (push prompt efrit-test-asked) nil))

;;;; A server that records what is sent to it

(cl-defstruct (efrit-test-recorder (:constructor efrit-test-recorder-create))
  "A stand-in for a language server: it records each request, answered by the test."
  (requests nil))

(cl-defmethod efrit-lsp--send-request ((server efrit-test-recorder) method params on-result on-error _timeout)
  "Record METHOD with PARAMS, ON-RESULT and ON-ERROR on SERVER."
  (push (list :method method :params params :on-result on-result :on-error on-error)
        (efrit-test-recorder-requests server))
  (length (efrit-test-recorder-requests server)))

(cl-defmethod efrit-lsp--live-p ((_server efrit-test-recorder)) t)
(cl-defmethod efrit-lsp--flush ((_server efrit-test-recorder)) nil)

(defun efrit-test-last-command (server)
  "The command name and first argument of SERVER's latest request, as a plist."
  (let* ((params (plist-get (car (efrit-test-recorder-requests server)) :params))
         (argument (aref (plist-get params :arguments) 0)))
    (list :command (plist-get params :command)
          :jobId (plist-get argument :jobId)
          :exclude (plist-get argument :exclude))))

(defun efrit-test-answer (server result)
  "Answer SERVER's latest request with RESULT."
  (funcall (plist-get (car (efrit-test-recorder-requests server)) :on-result) result))

;;;; A project and a change, as the server would propose it

(defconst efrit-test-cart "// 🛒 cart.js\nfunction total(items) {\n  return items.length;\n}\nmodule.exports = { total };\n")
(defconst efrit-test-checkout "const { total } = require('./cart');\nconsole.log(total([]));\n")
(defconst efrit-test-new-test "const { sumCart } = require('../src/cart');\nconsole.assert(sumCart([]) === 0);\n")

(defvar efrit-test-root nil "The project of the current test.")

(defun efrit-test-file (path)
  "PATH in the current test's project, as a file name."
  (expand-file-name path efrit-test-root))

(defun efrit-test-uri (path)
  "PATH in the current test's project, as a file URI."
  (eglot--path-to-uri (efrit-test-file path)))

(defun efrit-test-write (path text)
  "Write TEXT to PATH in the project."
  (make-directory (file-name-directory (efrit-test-file path)) t)
  (let ((coding-system-for-write 'utf-8-unix))
    (write-region text nil (efrit-test-file path) nil 'silent)))

(defun efrit-test-read (path)
  "PATH's text on disk, or nil when it does not exist."
  (and (file-exists-p (efrit-test-file path))
       (with-temp-buffer
         (let ((coding-system-for-read 'utf-8-unix))
           (insert-file-contents (efrit-test-file path)))
         (buffer-string))))

(defun efrit-test-project ()
  "A fresh project: src/cart.js visited (with a line typed, unsaved), the rest on disk only."
  (setq efrit-test-root (file-name-as-directory (make-temp-file "efrit-review-" t)))
  (efrit-test-write "src/cart.js" efrit-test-cart)
  (efrit-test-write "src/checkout.js" efrit-test-checkout)
  (efrit-test-write "old.js" "// old\n")
  (efrit-test-write "unused.js" "// unused\n")
  (with-current-buffer (find-file-noselect (efrit-test-file "src/cart.js"))
    (goto-char (point-min))
    (forward-line 1)
    (insert "'use strict';\n")
    (current-buffer)))

(defun efrit-test-range (line start end)
  "The LSP range on LINE from the UTF-16 column START to END."
  (list :start (list :line line :character start) :end (list :line line :character end)))

(defun efrit-test-edit (include)
  "The change the server proposes, as a WorkspaceEdit; INCLUDE lists the kinds to put in.
Kinds: `open' (src/cart.js, as its buffer has it), `disk' (src/checkout.js),
`create' (test/cart.test.js), `rename' (old.js to lib/new.js), `delete' (unused.js)."
  (list :documentChanges
        (vconcat
         (and (memq 'open include)
              (list (list :textDocument (list :uri (efrit-test-uri "src/cart.js") :version nil)
                          :edits (vector
                                  ;; After the emoji: two UTF-16 code units.
                                  (list :range (efrit-test-range 0 6 13) :newText "cart.js — the shopping cart")
                                  (list :range (efrit-test-range 2 9 14) :newText "sumCart")))))
         (and (memq 'disk include)
              (list (list :textDocument (list :uri (efrit-test-uri "src/checkout.js") :version nil)
                          :edits (vector (list :range (efrit-test-range 0 8 13) :newText "sumCart")
                                         (list :range (efrit-test-range 1 12 17) :newText "sumCart")))))
         (and (memq 'create include)
              (list (list :kind "create" :uri (efrit-test-uri "test/cart.test.js")
                          :options (list :overwrite :json-false :ignoreIfExists :json-false))
                    (list :textDocument (list :uri (efrit-test-uri "test/cart.test.js") :version nil)
                          :edits (vector (list :range (efrit-test-range 0 0 0) :newText efrit-test-new-test)))))
         (and (memq 'rename include)
              (list (list :kind "rename" :oldUri (efrit-test-uri "old.js") :newUri (efrit-test-uri "lib/new.js"))))
         (and (memq 'delete include)
              (list (list :kind "delete" :uri (efrit-test-uri "unused.js")))))))

(defun efrit-test-result (include)
  "An efrit/do result proposing the change of INCLUDE (see `efrit-test-edit'), not applied."
  (list :sessionId "session-1" :jobId "job-7" :summary "Rename total to sumCart and add a test"
        :steps 3 :applied :json-false
        :edit (efrit-test-edit include)
        :files (vconcat
                (and (memq 'open include) (list (list :uri (efrit-test-uri "src/cart.js") :path "src/cart.js" :kind "edit")))
                (and (memq 'disk include) (list (list :uri (efrit-test-uri "src/checkout.js") :path "src/checkout.js" :kind "edit")))
                (and (memq 'create include) (list (list :uri (efrit-test-uri "test/cart.test.js") :path "test/cart.test.js" :kind "create")))
                (and (memq 'rename include) (list (list :uri (efrit-test-uri "old.js") :path "old.js" :kind "rename"
                                                        :newUri (efrit-test-uri "lib/new.js") :newPath "lib/new.js")))
                (and (memq 'delete include) (list (list :uri (efrit-test-uri "unused.js") :path "unused.js" :kind "delete"))))))

(defconst efrit-test-all-kinds '(open disk create rename delete))

(defun efrit-test-cleanup ()
  "Kill the buffers of the test's project and the review buffers; delete the project."
  (dolist (buffer (buffer-list))
    (let ((file (buffer-file-name buffer)))
      (when (or (and file efrit-test-root (string-prefix-p efrit-test-root file))
                (string-prefix-p efrit-lsp-review-buffer-name (buffer-name buffer)))
        (with-current-buffer buffer
          (set-buffer-modified-p nil)
          (setq efrit-lsp--review nil))
        (kill-buffer buffer))))
  (when efrit-test-root (delete-directory efrit-test-root t)))

(defun efrit-test-goto-file (path)
  "Move point to the diff header of PATH in the review buffer."
  (goto-char (point-min))
  (unless (re-search-forward (concat "^diff --git a/" (regexp-quote path) " ") nil t)
    (efrit-test-fail "no diff of %s in:\n%s" path (buffer-string)))
  (beginning-of-line))

;;;; The review buffer, on a change written here

(ert-deftest efrit-review-shows-the-summary-then-a-diff-per-file ()
  "Each file as a unified diff: the open buffer's text, the file on disk, a new file; renames and deletions as headers."
  (let ((cart (efrit-test-project))
        (server (efrit-test-recorder-create)))
    (unwind-protect
        (let ((review (efrit-lsp-review-show server (efrit-test-result efrit-test-all-kinds) efrit-test-root)))
          (should (equal (buffer-name review) "*efrit-review*"))
          (with-current-buffer review
            (should (eq major-mode 'efrit-lsp-review-mode))
            (should (equal (efrit-test-buffer-text review)
                           (concat "Efrit: Rename total to sumCart and add a test\n\n"
                                   "diff --git a/src/cart.js b/src/cart.js\n"
                                   "--- a/src/cart.js\n+++ b/src/cart.js\n"
                                   "@@ -1,6 +1,6 @@\n"
                                   "-// 🛒 cart.js\n+// 🛒 cart.js — the shopping cart\n"
                                   " 'use strict';\n"
                                   "-function total(items) {\n+function sumCart(items) {\n"
                                   "   return items.length;\n }\n module.exports = { total };\n"
                                   "\n"
                                   "diff --git a/src/checkout.js b/src/checkout.js\n"
                                   "--- a/src/checkout.js\n+++ b/src/checkout.js\n"
                                   "@@ -1,2 +1,2 @@\n"
                                   "-const { total } = require('./cart');\n-console.log(total([]));\n"
                                   "+const { sumCart } = require('./cart');\n+console.log(sumCart([]));\n"
                                   "\n"
                                   "diff --git a/test/cart.test.js b/test/cart.test.js\n"
                                   "new file\n"
                                   "--- /dev/null\n+++ b/test/cart.test.js\n"
                                   "@@ -0,0 +1,2 @@\n"
                                   "+const { sumCart } = require('../src/cart');\n+console.assert(sumCart([]) === 0);\n"
                                   "\n"
                                   "diff --git a/old.js b/lib/new.js\n"
                                   "rename from old.js\nrename to lib/new.js\n"
                                   "\n"
                                   "diff --git a/unused.js b/unused.js\n"
                                   "deleted file\n"
                                   "\n")))
            (should (string-match-p "5 files — C-c C-c accept all · C-c C-k reject all · k reject file at point"
                                    (efrit-lsp--review-header))))
          ;; Showing changed nothing.
          (should (equal (efrit-test-read "src/checkout.js") efrit-test-checkout))
          (should (equal (efrit-test-read "src/cart.js") efrit-test-cart))
          (should-not (file-exists-p (efrit-test-file "test/cart.test.js")))
          (should (buffer-modified-p cart))
          (should (null (efrit-test-recorder-requests server))))
      (efrit-test-cleanup))))

(ert-deftest efrit-review-accept-sends-apply-job-without-the-files-rejected-at-point ()
  "k on a file's diff rejects it (k again keeps it); C-c C-c sends efrit.applyJob with it excluded."
  (efrit-test-project)
  (let ((server (efrit-test-recorder-create)))
    (unwind-protect
        (with-current-buffer (efrit-lsp-review-show server (efrit-test-result '(open disk create)) efrit-test-root)
          (efrit-test-goto-file "src/cart.js")
          (efrit-test-key "k")
          (efrit-test-key "k")
          (should-not (cl-some #'efrit-lsp--review-file-rejected (efrit-lsp--review-files efrit-lsp--review)))
          (efrit-test-goto-file "src/checkout.js")
          (forward-line 4)                  ; inside its hunk
          (efrit-test-key "k")
          (should (string-match-p "3 files, 1 rejected — C-c C-c accept the rest" (efrit-lsp--review-header)))
          (should (equal (mapcar (lambda (file) (cons (efrit-lsp--review-file-path file) (efrit-lsp--review-file-rejected file)))
                                 (efrit-lsp--review-files efrit-lsp--review))
                         '(("src/cart.js") ("src/checkout.js" . t) ("test/cart.test.js"))))
          (efrit-test-key "C-c C-c")
          (should (equal (efrit-test-last-command server)
                         (list :command "efrit.applyJob" :jobId "job-7" :exclude (vector (efrit-test-uri "src/checkout.js")))))
          (should (eq (efrit-lsp--review-status efrit-lsp--review) 'accepting))
          ;; While the accept is in flight, the edit of the files kept is the reviewed one; one of the rejected file is not.
          (should (efrit-lsp-reviewed-edit-p server (efrit-test-edit '(open create))))
          (should-not (efrit-lsp-reviewed-edit-p server (efrit-test-edit '(open disk create))))
          (should-not (efrit-lsp-reviewed-edit-p (efrit-test-recorder-create) (efrit-test-edit '(open))))
          (should (string-match-p "already being applied"
                                  (condition-case e (progn (efrit-test-key "C-c C-c") "accepted twice")
                                    (user-error (error-message-string e)))))
          (efrit-test-answer server '(:applied t))
          (should (eq (efrit-lsp--review-status efrit-lsp--review) 'accepted))
          (should (equal (efrit-lsp--review-header) " efrit: applied to 2 of 3 files"))
          ;; Once answered, an edit from the server is no longer taken as reviewed.
          (should-not (efrit-lsp-reviewed-edit-p server (efrit-test-edit '(open)))))
      (efrit-test-cleanup))))

(ert-deftest efrit-review-reject-sends-reject-job-and-changes-nothing ()
  "C-c C-k sends efrit.rejectJob; every file stays as it was."
  (let ((cart (efrit-test-project))
        (server (efrit-test-recorder-create)))
    (unwind-protect
        (let ((before (efrit-test-buffer-text cart)))
          (with-current-buffer (efrit-lsp-review-show server (efrit-test-result efrit-test-all-kinds) efrit-test-root)
            (efrit-test-key "C-c C-k")
            (should (equal (efrit-test-last-command server) '(:command "efrit.rejectJob" :jobId "job-7" :exclude nil)))
            (efrit-test-answer server '(:rejected t))
            (should (eq (efrit-lsp--review-status efrit-lsp--review) 'rejected))
            (should (equal (efrit-lsp--review-header) " efrit: rejected — nothing was changed")))
          (should (equal (efrit-test-buffer-text cart) before))
          (should (equal (efrit-test-read "src/cart.js") efrit-test-cart))
          (should (equal (efrit-test-read "src/checkout.js") efrit-test-checkout))
          (should (equal (efrit-test-read "old.js") "// old\n"))
          (should (equal (efrit-test-read "unused.js") "// unused\n"))
          (should-not (file-exists-p (efrit-test-file "test/cart.test.js")))
          (should-not (file-exists-p (efrit-test-file "lib/new.js"))))
      (efrit-test-cleanup))))

(ert-deftest efrit-review-accept-with-every-file-rejected-rejects ()
  "Rejecting each file, then accepting, rejects the change: no efrit.applyJob."
  (efrit-test-project)
  (let ((server (efrit-test-recorder-create)))
    (unwind-protect
        (with-current-buffer (efrit-lsp-review-show server (efrit-test-result '(open disk)) efrit-test-root)
          (efrit-test-goto-file "src/cart.js")
          (efrit-test-key "C-c C-d")
          (efrit-test-goto-file "src/checkout.js")
          (efrit-test-key "C-c C-d")
          (efrit-test-key "C-c C-c")
          (should (equal (mapcar (lambda (request) (plist-get (plist-get request :params) :command))
                                 (efrit-test-recorder-requests server))
                         '("efrit.rejectJob"))))
      (efrit-test-cleanup))))

(ert-deftest efrit-review-killing-an-undecided-review-rejects-it ()
  "A review buffer killed before a decision rejects its change; a new change waits in its own buffer meanwhile.
M-x efrit-lsp-review goes to the change that waits."
  (efrit-test-project)
  (let ((server (efrit-test-recorder-create)))
    (unwind-protect
        (let* ((first (efrit-lsp-review-show server (efrit-test-result '(disk)) efrit-test-root))
               (second (efrit-lsp-review-show server (plist-put (efrit-test-result '(open)) :jobId "job-8") efrit-test-root)))
          (should-not (eq first second))
          (should (string-prefix-p "*efrit-review*<" (buffer-name second)))
          (kill-buffer first)
          (should (equal (efrit-test-last-command server) '(:command "efrit.rejectJob" :jobId "job-7" :exclude nil)))
          (should (eq (efrit-lsp--review-status (buffer-local-value 'efrit-lsp--review second)) 'pending))
          (with-current-buffer (get-buffer-create "elsewhere")
            (efrit-lsp-review)
            (should (eq (window-buffer (selected-window)) second))))
      (efrit-test-cleanup))))

(ert-deftest efrit-review-moves-between-files ()
  "N and P move from file to file, header lines included."
  (efrit-test-project)
  (unwind-protect
      (with-current-buffer (efrit-lsp-review-show (efrit-test-recorder-create) (efrit-test-result efrit-test-all-kinds) efrit-test-root)
        (goto-char (point-min))
        (let ((seen nil))
          (dotimes (_ 5)
            (efrit-test-key "N")
            (push (efrit-lsp--review-file-path (efrit-lsp--review-file-at-point)) seen))
          (should (equal (nreverse seen) '("src/cart.js" "src/checkout.js" "test/cart.test.js" "old.js" "unused.js"))))
        (efrit-test-key "P")
        (should (looking-at "diff --git a/old.js b/lib/new.js")))
    (efrit-test-cleanup)))

;;;; Eglot applying a change: all of it, without asking, or nothing

(ert-deftest efrit-review-eglot-applies-a-change-across-files-one-undo-step-each ()
  "The open buffer, a file nobody visits and a new file, in one go; undo takes the open buffer's edits back at once."
  (let ((cart (efrit-test-project)))
    (unwind-protect
        (let ((before (efrit-test-buffer-text cart)))
          (with-current-buffer cart (undo-boundary))
          (should (equal (efrit-lsp-eglot--apply-edit (efrit-test-edit '(open disk create rename delete)))
                         '(:applied t)))
          (should (equal (efrit-test-buffer-text cart)
                         "// 🛒 cart.js — the shopping cart\n'use strict';\nfunction sumCart(items) {\n  return items.length;\n}\nmodule.exports = { total };\n"))
          (should (equal (efrit-test-buffer-text (find-buffer-visiting (efrit-test-file "src/checkout.js")))
                         "const { sumCart } = require('./cart');\nconsole.log(sumCart([]));\n"))
          (should (equal (efrit-test-buffer-text (find-buffer-visiting (efrit-test-file "test/cart.test.js"))) efrit-test-new-test))
          (should (equal (efrit-test-read "lib/new.js") "// old\n"))
          (should-not (file-exists-p (efrit-test-file "old.js")))
          (should-not (file-exists-p (efrit-test-file "unused.js")))
          (with-current-buffer cart
            (undo-boundary)                 ; as the command loop does after the change
            (let ((last-command nil)) (undo))
            (should (equal (efrit-test-buffer-text cart) before))))
      (efrit-test-cleanup))))

(ert-deftest efrit-review-eglot-refuses-a-change-it-cannot-apply-whole ()
  "A change whose last part cannot be applied (the new file exists) changes no file at all."
  (let ((cart (efrit-test-project)))
    (unwind-protect
        (let ((before (efrit-test-buffer-text cart)))
          (efrit-test-write "test/cart.test.js" "// already here\n")
          (let ((result (efrit-lsp-eglot--apply-edit (efrit-test-edit '(open disk create)))))
            (should (equal (plist-get result :applied) :json-false))
            (should (string-match-p "cart\\.test\\.js already exists" (plist-get result :failureReason))))
          (should (equal (efrit-test-buffer-text cart) before))
          (should (equal (efrit-test-read "src/checkout.js") efrit-test-checkout))
          (should-not (find-buffer-visiting (efrit-test-file "src/checkout.js")))
          (should (equal (efrit-test-read "test/cart.test.js") "// already here\n")))
      (efrit-test-cleanup))))

(defun efrit-test-eglot-server (efrit)
  "An Eglot server object on a pipe that nothing answers.
Started, as Eglot records it, from efrit-lsp's contact when EFRIT, else from another."
  (let* ((pipe (make-pipe-process :name "efrit-test-pipe" :noquery t))
         (server (make-instance 'eglot-lsp-server :name "efrit-test" :process pipe)))
    (setf (eglot--saved-initargs server)
          (list :process pipe :initializationOptions (if efrit #'efrit-lsp-eglot--initialization-options #'ignore)))
    server))

(ert-deftest efrit-review-eglot-applies-the-accepted-change-without-asking ()
  "workspace/applyEdit of the change being accepted: applied, file operations included, no question."
  (let ((cart (efrit-test-project))
        (server (efrit-test-eglot-server t))
        (edit (efrit-test-edit '(open disk create))))
    (unwind-protect
        (let ((efrit-lsp--accepting (list (efrit-lsp--review-create
                                           :server server :status 'accepting
                                           :files (efrit-lsp--review-collect-files edit nil efrit-test-root))))
              (efrit-test-asked nil))
          (should (equal (eglot-handle-request server 'workspace/applyEdit :label "Efrit: Rename" :edit edit)
                         '(:applied t)))
          (should (equal efrit-test-asked nil))
          (should (string-match-p "function sumCart" (efrit-test-buffer-text cart)))
          (should (string-match-p "require('./cart');\nconsole.log(sumCart"
                                  (efrit-test-buffer-text (find-buffer-visiting (efrit-test-file "src/checkout.js")))))
          (should (file-exists-p (efrit-test-file "test/cart.test.js"))))
      (delete-process (jsonrpc--process server))
      (efrit-test-cleanup))))

(ert-deftest efrit-review-eglot-asks-before-an-unreviewed-change-of-files ()
  "Not under review: a change that creates a file is applied only if the user says so; here, no."
  (efrit-test-project)
  (let ((server (efrit-test-eglot-server t))
        (efrit-test-asked nil))
    (unwind-protect
        (progn
          (should (equal (eglot-handle-request server 'workspace/applyEdit :label "Efrit: Add a test" :edit (efrit-test-edit '(create)))
                         '(:applied :json-false :failureReason "The user declined the change.")))
          (should (equal efrit-test-asked
                         (list (format "[efrit] Efrit: Add a test:\n  create %s\n  edit %s\nProceed? "
                                       (efrit-test-file "test/cart.test.js") (efrit-test-file "test/cart.test.js")))))
          (should-not (file-exists-p (efrit-test-file "test/cart.test.js"))))
      (delete-process (jsonrpc--process server))
      (efrit-test-cleanup))))

(ert-deftest efrit-review-eglot-leaves-other-edits-to-eglot ()
  "Text edits not under review, and any edit of another server, go to Eglot, which asks as it always does."
  (efrit-test-project)
  (dolist (efrit '(t nil))
    (let ((server (efrit-test-eglot-server efrit))
          (efrit-test-asked nil))
      (unwind-protect
          (progn
            (should (equal (condition-case err
                               (eglot-handle-request server 'workspace/applyEdit :edit (efrit-test-edit '(disk)))
                             (jsonrpc-error (cdr (assq 'jsonrpc-error-message (cdr err)))))
                           "User cancelled server edit"))
            (should (string-prefix-p "[eglot] Server wants to edit:" (car efrit-test-asked)))
            (should (equal (efrit-test-read "src/checkout.js") efrit-test-checkout)))
        (delete-process (jsonrpc--process server)))))
  (efrit-test-cleanup))

;;;; The whole flow: efrit-lsp-do, the review, the edit the server sends

(defun efrit-test-propose (name)
  "Visit src/NAME-cart.js, run `efrit-lsp-do' there as scenario NAME; return (CART REVIEW).
Fails unless the change shows in a review buffer and no file changed yet."
  (let* ((cart (efrit-test-eglot-visit (format "%s-cart.js" name) 'js-mode))
         (cart-text (efrit-test-buffer-text cart))
         (checkout (format "src/%s-checkout.js" name))
         (checkout-text (efrit-test-disk checkout)))
    (setq efrit-test-asked nil)
    (with-current-buffer cart
      (efrit-lsp-do (format "REVIEW-%s rename total to cartTotal everywhere and add a test" (upcase name))
                    (point-min) (point-min))
      (efrit-test-wait (lambda () (null (efrit-lsp--live-jobs))) "the agent's proposal" 90))
    (let ((review (get-buffer efrit-lsp-review-buffer-name)))
      (unless (and review (buffer-local-value 'efrit-lsp--review review))
        (efrit-test-fail "no review buffer; the output says:\n%s"
                         (efrit-test-buffer-text efrit-lsp-output-buffer-name)))
      (with-current-buffer review
        (should (equal (mapcar #'efrit-lsp--review-file-path (efrit-lsp--review-files efrit-lsp--review))
                       (list (format "src/%s-cart.js" name) checkout (format "test/%s-cart.test.js" name))))
        (should (string-match-p (concat "^-function total(items, coupon) {\n\\+function cartTotal(items, coupon) {$") (buffer-string)))
        (should (string-match-p (format "^\\+const { cartTotal } = require('../src/%s-cart');$" name) (buffer-string))))
      ;; Proposed, not applied.
      (should (equal (efrit-test-buffer-text cart) cart-text))
      (should (equal (efrit-test-disk checkout) checkout-text))
      (should-not (efrit-test-disk (format "test/%s-cart.test.js" name)))
      (list cart review))))

(ert-deftest efrit-review-e2e-accept-applies-every-file-as-proposed ()
  "C-c C-c: the open buffer, the file nobody visited and the new file all change as proposed, without a question."
  (pcase-let* ((name "accept")
               (`(,cart ,review) (efrit-test-propose name))
               (cart-text (efrit-test-buffer-text cart))
               (checkout-text (efrit-test-disk "src/accept-checkout.js")))
    ;; Eglot 1.9 declares no file operations; for efrit-lsp, this package does.
    (should (equal (plist-get (plist-get (plist-get (eglot-client-capabilities efrit-test-server) :workspace) :workspaceEdit)
                              :resourceOperations)
                   ["create" "rename" "delete"]))
    (with-current-buffer review (efrit-test-key "C-c C-c"))
    (should (eq (efrit-test-settle review) 'accepted))
    (should (equal efrit-test-asked nil))
    (should (equal (efrit-test-buffer-text cart) (efrit-test-renamed name cart-text)))
    (should (buffer-modified-p cart))   ; the user's own buffer: edited, left to save
    (should (equal (efrit-test-disk "src/accept-checkout.js") (efrit-test-renamed name checkout-text)))
    (should-not (buffer-modified-p (find-buffer-visiting (efrit-test-source "src/accept-checkout.js"))))
    (should (equal (efrit-test-disk "test/accept-cart.test.js") (efrit-test-cart-test name)))
    (with-current-buffer cart
      (efrit-test-check-sync "AFTER-ACCEPT")
      ;; One undo step takes the whole edit of the buffer back.
      (undo-boundary)
      (let ((last-command nil)) (undo))
      (should (equal (efrit-test-buffer-text cart) cart-text)))
    (efrit-test-finish-review review)))

(ert-deftest efrit-review-e2e-reject-leaves-every-file-byte-identical ()
  "C-c C-k: no file changes, no file is created, nothing is asked."
  (pcase-let* ((`(,cart ,review) (efrit-test-propose "reject"))
               (cart-text (efrit-test-buffer-text cart))
               (checkout-bytes (efrit-test-disk "src/reject-checkout.js")))
    (with-current-buffer review (efrit-test-key "C-c C-k"))
    (should (eq (efrit-test-settle review) 'rejected))
    (should (equal (efrit-lsp--review-note (buffer-local-value 'efrit-lsp--review review)) nil)) ; the server heard it
    (should (equal (efrit-test-buffer-text cart) cart-text))
    (should (equal (efrit-test-disk "src/reject-checkout.js") checkout-bytes))
    (should-not (find-buffer-visiting (efrit-test-source "src/reject-checkout.js")))
    (should-not (file-exists-p (efrit-test-source "test/reject-cart.test.js")))
    (should (equal efrit-test-asked nil))
    (efrit-test-finish-review review)))

(ert-deftest efrit-review-e2e-rejecting-one-file-applies-the-others ()
  "k on the checkout's diff, then C-c C-c: the open buffer and the new file change, the checkout does not."
  (pcase-let* ((name "partial")
               (`(,cart ,review) (efrit-test-propose name))
               (cart-text (efrit-test-buffer-text cart))
               (checkout-bytes (efrit-test-disk "src/partial-checkout.js")))
    (with-current-buffer review
      (efrit-test-goto-file "src/partial-checkout.js")
      (efrit-test-key "k")
      (efrit-test-key "C-c C-c"))
    (should (eq (efrit-test-settle review) 'accepted))
    (should (equal efrit-test-asked nil))
    (should (equal (efrit-test-buffer-text cart) (efrit-test-renamed name cart-text)))
    (should (equal (efrit-test-disk "test/partial-cart.test.js") (efrit-test-cart-test name)))
    (should (equal (efrit-test-disk "src/partial-checkout.js") checkout-bytes))
    (should-not (find-buffer-visiting (efrit-test-source "src/partial-checkout.js")))
    (with-current-buffer cart (efrit-test-check-sync "AFTER-PARTIAL"))
    (efrit-test-finish-review review)))

(ert-deftest efrit-review-e2e-accepting-after-a-file-changed-on-disk-applies-nothing ()
  "The checkout changes on disk while the change waits: accepting applies no part of it, and says which file."
  (pcase-let* ((`(,cart ,review) (efrit-test-propose "stale"))
               (cart-text (efrit-test-buffer-text cart))
               (changed (concat (efrit-test-disk "src/stale-checkout.js") "// edited elsewhere\n")))
    (let ((coding-system-for-write 'utf-8-unix))
      (write-region changed nil (efrit-test-source "src/stale-checkout.js") nil 'silent))
    (with-current-buffer review (efrit-test-key "C-c C-c"))
    (efrit-test-wait (lambda () (eq (efrit-lsp--review-status (buffer-local-value 'efrit-lsp--review review)) 'failed))
                     "the refused change" 60)
    (with-current-buffer review
      (should (string-match-p "\\` efrit: not applied: .*src/stale-checkout\\.js changed on disk" (efrit-lsp--review-header))))
    (should (equal (efrit-test-buffer-text cart) cart-text))
    (should (equal (efrit-test-disk "src/stale-checkout.js") changed))
    (should-not (file-exists-p (efrit-test-source "test/stale-cart.test.js")))
    (should (equal efrit-test-asked nil))
    (efrit-test-finish-review review)))

(ert-deftest efrit-review-e2e-a-do-without-an-edit-shows-its-summary-only ()
  "The agent changes nothing: its answer goes to the output buffer, and no review opens."
  (let ((pending (lambda () (cl-count-if (lambda (buffer)
                                           (let ((review (buffer-local-value 'efrit-lsp--review buffer)))
                                             (and review (eq (efrit-lsp--review-status review) 'pending))))
                                         (buffer-list)))))
    (with-current-buffer (efrit-test-eglot-visit "none-cart.js" 'js-mode)
      (let ((before (funcall pending)))
        (efrit-lsp-do "REVIEW-NONE is total() named well?" (point-min) (point-min))
        (efrit-test-wait (lambda () (null (efrit-lsp--live-jobs))) "the agent's answer" 60)
        (should (equal (efrit-test-output-section "Do: REVIEW-NONE")
                       "total() already says what it does; nothing to change.\n[no edit]\n"))
        (should (= (funcall pending) before))))))

(ert-deftest efrit-review-e2e-write-tests-creates-a-test-file-once-the-user-agrees ()
  "\"Efrit: Write tests\" from Eglot's menu: the client can create files, so the tests go to a new file, made after a y/n."
  (with-current-buffer (efrit-test-eglot-visit "tests-cart.js" 'js-mode)
    (let ((bounds (efrit-test-bounds "^function total" "^}\n"))
          (before (efrit-test-buffer-text (current-buffer)))
          (last-nonmenu-event ?\r)          ; else Eglot pops an x-popup-menu
          (asked nil))
      (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "Efrit: Write tests"))
                ((symbol-function 'y-or-n-p) (lambda (prompt) (push prompt asked) t)))
        (eglot-code-actions (car bounds) (cadr bounds) nil t)
        (efrit-test-wait (lambda () (null (efrit-lsp--live-jobs))) "the tests" 60))
      (should (equal asked (list (format "[efrit] Efrit: Write tests:\n  create %s\n  edit %s\nProceed? "
                                         (efrit-test-source "test/tests-cart.test.js")
                                         (efrit-test-source "test/tests-cart.test.js")))))
      (should (equal (efrit-test-disk "test/tests-cart.test.js") (efrit-test-cart-test "tests")))
      (should (equal (efrit-test-buffer-text (current-buffer)) before)))))

(efrit-test-run-ert)

;;; efrit-review-test.el ends here
