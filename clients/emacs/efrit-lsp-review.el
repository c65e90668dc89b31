;;; efrit-lsp-review.el --- Review of efrit's changes before they are applied  -*- lexical-binding: t -*-

;; Copyright (C) 2025 The efrit-lsp authors

;; Author: The efrit-lsp authors
;; SPDX-License-Identifier: MIT

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The agent's change (`efrit-lsp-do') may touch several files: edit
;; open buffers, edit files nobody visits, create, rename or delete
;; files.  Instead of applying it at once, efrit-lsp.el asks the server
;; for it without applying it (`apply: false') and shows it here, in the
;; *efrit-review* buffer: the summary, then a unified diff per file,
;; each computed from the buffer's current text (or the file on disk
;; when no buffer visits it) with the change's text edits applied in
;; memory.
;;
;;   C-c C-c   accept: the server re-checks the change against what you
;;             typed meanwhile and what is on disk, and sends it; it is
;;             applied without a second question
;;   C-c C-k   reject: nothing changes, and the agent's session is told
;;   k         reject (or keep again) the file at point; C-c C-d too
;;   n / p     next / previous hunk;  N / P  next / previous file
;;   RET       visit the file at point
;;   q         close the window; the change waits for a decision
;;             (M-x efrit-lsp-review, or v in `efrit-lsp-command-map',
;;             comes back to it)
;;
;; Accepting sends `efrit.applyJob' with the rejected files in
;; `exclude'; rejecting sends `efrit.rejectJob'.  Killing the buffer of
;; an undecided change rejects it.  This file needs no LSP client of its
;; own: it goes through the transport functions of efrit-lsp.el, so it
;; works over Eglot and lsp-mode alike.  How the accepted change is
;; applied is the client's part (efrit-lsp-eglot.el for Eglot).

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'subr-x)
(require 'url-parse)
(require 'url-util)
(require 'diff-mode)
(require 'efrit-lsp)

(defcustom efrit-lsp-review-buffer-name "*efrit-review*"
  "Name of the buffer that shows a change for review.
While it holds a change that waits for a decision, the next change
goes to a new buffer of the same name with a number added."
  :type 'string
  :group 'efrit-lsp)

(defface efrit-lsp-review-rejected '((t :inherit shadow :strike-through t))
  "Face of a file's diff that will not be applied (rejected at point)."
  :group 'efrit-lsp)

(defface efrit-lsp-review-mark '((t :inherit warning :weight bold))
  "Face of the \"[rejected]\" mark before a rejected file's diff."
  :group 'efrit-lsp)

;;;; The change, file by file

(cl-defstruct (efrit-lsp--review-file (:constructor efrit-lsp--review-file-create)
                                      (:copier nil))
  "One file a change touches.
KIND is `edit', `create', `rename' or `delete'; NEW-URI and NEW-PATH
name a renamed file's new place; EDITS are the LSP TextEdits on its
text, in the order given; REJECTED is non-nil once the user rejected
it; OVERLAY covers its diff in the review buffer."
  uri path kind new-uri new-path edits rejected overlay)

(cl-defstruct (efrit-lsp--review (:constructor efrit-lsp--review-create)
                                 (:copier nil))
  "A change shown for review.
SERVER and JOB-ID name the efrit/do job that proposed it; FILES are its
`efrit-lsp--review-file's; STATUS is `pending', `accepting',
`accepted', `rejecting', `rejected' or `failed', and NOTE says more
about the last two; ROOT is the folder paths are shown relative to
when the server gives none."
  server job-id summary files status note root)

(defun efrit-lsp--uri-file (uri)
  "The local file name of the file URI URI."
  (let ((file (decode-coding-string
               (url-unhex-string (url-filename (url-generic-parse-url uri)))
               'utf-8)))
    ;; file:///C:/x is C:/x on Windows.
    (if (string-match-p "\\`/[A-Za-z]:" file) (substring file 1) file)))

(defun efrit-lsp-workspace-edit-changes (edit)
  "The parts of EDIT, an LSP WorkspaceEdit as a plist, in order.
Each is (KIND URI DATA EXTRA): KIND `edit' (DATA the TextEdits as a
list, EXTRA the document version or nil), `create', `rename' (DATA the
new URI) or `delete' (EXTRA the options of those three)."
  (let ((changes nil)
        (document-changes (plist-get edit :documentChanges)))
    (seq-doseq (change document-changes)
      (let ((options (plist-get change :options)))
        (push (pcase (plist-get change :kind)
                ("create" (list 'create (plist-get change :uri) nil options))
                ("rename" (list 'rename (plist-get change :oldUri) (plist-get change :newUri)
                                options))
                ("delete" (list 'delete (plist-get change :uri) nil options))
                (_ (let ((document (plist-get change :textDocument)))
                     (list 'edit (plist-get document :uri)
                           (append (plist-get change :edits) nil)
                           (plist-get document :version)))))
              changes)))
    (when (seq-empty-p document-changes)
      (cl-loop for (key edits) on (plist-get edit :changes) by #'cddr
               do (push (list 'edit (substring (symbol-name key) 1) (append edits nil) nil)
                        changes)))
    (nreverse changes)))

(defun efrit-lsp--review-collect-files (edit described root)
  "The files EDIT touches, as `efrit-lsp--review-file's.
DESCRIBED is the do result's `files' (a vector of plists, or nil): it
gives their order and their paths; without it the paths are shown
relative to ROOT."
  (let ((files nil))
    (cl-flet ((file-for (uri)
                (or (cl-find-if (lambda (file)
                                  (member uri (list (efrit-lsp--review-file-uri file)
                                                    (efrit-lsp--review-file-new-uri file))))
                                files)
                    (car (push (efrit-lsp--review-file-create :uri uri :kind 'edit) files)))))
      (pcase-dolist (`(,kind ,uri ,data ,_) (efrit-lsp-workspace-edit-changes edit))
        (let ((file (file-for uri)))
          (pcase kind
            ('edit (setf (efrit-lsp--review-file-edits file)
                         (append (efrit-lsp--review-file-edits file) data)))
            ('rename (setf (efrit-lsp--review-file-kind file) 'rename
                           (efrit-lsp--review-file-new-uri file) data))
            (_ (setf (efrit-lsp--review-file-kind file) kind))))))
    (setq files (nreverse files))
    (let ((order (mapcar (lambda (entry) (plist-get entry :uri)) described)))
      (dolist (file files)
        (let ((entry (seq-find (lambda (entry)
                                 (equal (plist-get entry :uri) (efrit-lsp--review-file-uri file)))
                               described))
              (relative (lambda (uri)
                          (and uri (file-relative-name (efrit-lsp--uri-file uri) root)))))
          (setf (efrit-lsp--review-file-path file)
                (or (plist-get entry :path)
                    (funcall relative (efrit-lsp--review-file-uri file)))
                (efrit-lsp--review-file-new-path file)
                (or (plist-get entry :newPath)
                    (funcall relative (efrit-lsp--review-file-new-uri file))))))
      (cl-stable-sort files #'<
                      :key (lambda (file)
                             (or (cl-position (efrit-lsp--review-file-uri file) order
                                              :test #'equal)
                                 (length order)))))))

;;;; Texts before and after, and their diff

(defun efrit-lsp--review-current-text (file)
  "FILE's text now: its buffer's, else the file's on disk, else nil."
  (let ((buffer (find-buffer-visiting file)))
    (cond (buffer (with-current-buffer buffer
                    (save-restriction
                      (widen)
                      (buffer-substring-no-properties (point-min) (point-max)))))
          ((file-readable-p file)
           (with-temp-buffer
             (insert-file-contents file)
             (buffer-string))))))

(defun efrit-lsp--goto-lsp-position (position)
  "Move to the LSP POSITION in the current buffer (UTF-16 code units).
A position past the end of its line or of the text stops there."
  (goto-char (point-min))
  (forward-line (plist-get position :line))
  (let ((units (plist-get position :character))
        (eol (line-end-position)))
    (while (and (> units 0) (< (point) eol))
      (setq units (- units (if (>= (char-after) #x10000) 2 1)))
      (forward-char 1))))

(defun efrit-lsp--apply-text-edits-to-string (text edits)
  "TEXT with the LSP text EDITS (a list) applied, in memory.
Their ranges are all in TEXT as given, as LSP wants them."
  (with-temp-buffer
    (insert text)
    (let ((regions (mapcar (lambda (edit)
                             (let ((range (plist-get edit :range)))
                               (list (plist-get edit :newText)
                                     (progn (efrit-lsp--goto-lsp-position (plist-get range :start))
                                            (point-marker))
                                     (progn (efrit-lsp--goto-lsp-position (plist-get range :end))
                                            (point-marker)))))
                           edits)))
      ;; Last first, as Eglot does: inserts at one place keep their order.
      (pcase-dolist (`(,new-text ,beg ,end) (reverse regions))
        (goto-char beg)
        (delete-region beg end)
        (insert new-text)
        (set-marker beg nil)
        (set-marker end nil)))
    (buffer-string)))

(defun efrit-lsp--unified-diff (old new)
  "The hunks of the unified diff from the text OLD to the text NEW.
Without the ---/+++ lines; \"\" when the texts are equal."
  (if (equal old new)
      ""
    (let ((old-file (make-temp-file "efrit-review-"))
          (new-file (make-temp-file "efrit-review-")))
      (unwind-protect
          (let ((coding-system-for-write 'utf-8-unix)
                (coding-system-for-read 'utf-8-unix))
            (write-region old nil old-file nil 'silent)
            (write-region new nil new-file nil 'silent)
            (with-temp-buffer
              (let ((code (call-process diff-command nil t nil "-u"
                                        old-file new-file)))
                (unless (memq code '(0 1))
                  (error "efrit: %s failed: %s" diff-command (buffer-string))))
              (goto-char (point-min))
              ;; The ---/+++ lines: each file's header says those.
              (forward-line 2)
              (buffer-substring-no-properties (point) (point-max))))
        (delete-file old-file)
        (delete-file new-file)))))

(defun efrit-lsp--review-file-diff (file)
  "The diff section of FILE, a `efrit-lsp--review-file', as a string."
  (let* ((path (efrit-lsp--review-file-path file))
         (new-path (or (efrit-lsp--review-file-new-path file) path))
         (kind (efrit-lsp--review-file-kind file))
         (edits (efrit-lsp--review-file-edits file))
         (header (format "diff --git a/%s b/%s\n" path new-path)))
    (pcase kind
      ('delete (concat header "deleted file\n"))
      (_
       (let* ((old (if (eq kind 'create)
                       ""
                     (efrit-lsp--review-current-text
                      (efrit-lsp--uri-file (efrit-lsp--review-file-uri file)))))
              (new (and old (efrit-lsp--apply-text-edits-to-string old edits))))
         (concat header
                 (pcase kind
                   ('create "new file\n")
                   ('rename (format "rename from %s\nrename to %s\n" path new-path))
                   (_ ""))
                 (cond ((null old) "(the file cannot be read: it is shown when applied)\n")
                       ((equal old new) "")
                       (t (concat (format "--- %s\n+++ b/%s\n"
                                          (if (eq kind 'create) "/dev/null" (concat "a/" path))
                                          new-path)
                                  (efrit-lsp--unified-diff old new))))))))))

;;;; The review buffer

(defvar efrit-lsp-review-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "C-c C-c") #'efrit-lsp-review-accept)
    (define-key map (kbd "C-c C-k") #'efrit-lsp-review-reject)
    (define-key map (kbd "C-c C-d") #'efrit-lsp-review-toggle-file)
    (define-key map (kbd "k") #'efrit-lsp-review-toggle-file)
    (define-key map (kbd "n") #'diff-hunk-next)
    (define-key map (kbd "p") #'diff-hunk-prev)
    (define-key map (kbd "N") #'efrit-lsp-review-next-file)
    (define-key map (kbd "P") #'efrit-lsp-review-previous-file)
    (define-key map (kbd "RET") #'efrit-lsp-review-visit-file)
    map)
  "Keymap of `efrit-lsp-review-mode'.")

(define-derived-mode efrit-lsp-review-mode special-mode "Efrit-Review"
  "Major mode of the buffer that shows efrit's change for review.
\\<efrit-lsp-review-mode-map>
\\[efrit-lsp-review-accept] accepts the change (without the files rejected),
\\[efrit-lsp-review-reject] rejects all of it,
\\[efrit-lsp-review-toggle-file] rejects the file at point, or keeps it again.

\\{efrit-lsp-review-mode-map}"
  (setq-local font-lock-defaults diff-font-lock-defaults)
  (setq-local header-line-format '(:eval (efrit-lsp--review-header)))
  (setq-local truncate-lines t)
  (add-hook 'kill-buffer-hook #'efrit-lsp--review-killed nil t))

(defvar-local efrit-lsp--review nil
  "In a review buffer: the change it shows, an `efrit-lsp--review'.")

(defvar efrit-lsp--accepting nil
  "Reviews whose accept request is in flight.
The edit their server sends meanwhile is the one the user reviewed.")

(defun efrit-lsp--review-kept (review)
  "The files of REVIEW that are not rejected."
  (cl-remove-if #'efrit-lsp--review-file-rejected (efrit-lsp--review-files review)))

(defun efrit-lsp--review-header ()
  "The header line of a review buffer: what the change is at, and the keys."
  (let* ((review efrit-lsp--review)
         (files (and review (efrit-lsp--review-files review)))
         (rejected (cl-count-if #'efrit-lsp--review-file-rejected files)))
    (pcase (and review (efrit-lsp--review-status review))
      ('nil " efrit: no change to review")
      ('pending
       (substitute-command-keys
        (format " efrit: %d %s%s — \\[efrit-lsp-review-accept] accept%s · \
\\[efrit-lsp-review-reject] reject all · \\[efrit-lsp-review-toggle-file] reject file at point"
                (length files) (if (= (length files) 1) "file" "files")
                (if (> rejected 0) (format ", %d rejected" rejected) "")
                (if (> rejected 0) " the rest" " all"))))
      ('accepting " efrit: applying the change…")
      ('rejecting " efrit: rejecting the change…")
      ('accepted (format " efrit: applied%s" (or (efrit-lsp--review-note review) "")))
      ('rejected (format " efrit: rejected — nothing was changed%s"
                         (or (efrit-lsp--review-note review) "")))
      ('failed (format " efrit: not applied: %s" (efrit-lsp--review-note review))))))

(defun efrit-lsp--review-buffer ()
  "A buffer for a new review: the review buffer, unless a change waits there."
  (let* ((buffer (get-buffer efrit-lsp-review-buffer-name))
         (review (and buffer (buffer-local-value 'efrit-lsp--review buffer))))
    (if (and review
             (memq (efrit-lsp--review-status review) '(pending accepting rejecting)))
        (generate-new-buffer efrit-lsp-review-buffer-name)
      (get-buffer-create efrit-lsp-review-buffer-name))))

(defun efrit-lsp-review-show (server result &optional root)
  "Show RESULT, an efrit/do result from SERVER, for review; return the buffer.
Paths are shown relative to ROOT (default: `default-directory') when
RESULT does not give them.  Return nil when RESULT changes no file."
  (let* ((root (or root default-directory))
         (files (efrit-lsp--review-collect-files (plist-get result :edit)
                                         (append (plist-get result :files) nil)
                                         root)))
    (when files
      (let ((sections (mapcar (lambda (file) (cons file (efrit-lsp--review-file-diff file)))
                              files))
            (summary (or (plist-get result :summary) "")))
        (with-current-buffer (efrit-lsp--review-buffer)
          (let ((inhibit-read-only t))
            (setq efrit-lsp--review nil) ; an earlier review here was decided
            (erase-buffer)
            (remove-overlays)
            (insert (propertize (concat "Efrit: " (if (string-empty-p summary) "(no summary)" summary))
                                'face 'bold)
                    "\n\n")
            (pcase-dolist (`(,file . ,text) sections)
              (let ((start (point)))
                (insert text "\n")
                (let ((overlay (make-overlay start (point) nil nil nil)))
                  (overlay-put overlay 'efrit-lsp-review-file file)
                  (setf (efrit-lsp--review-file-overlay file) overlay))))
            (efrit-lsp-review-mode)
            (setq default-directory (file-name-as-directory root)
                  efrit-lsp--review (efrit-lsp--review-create
                                     :server server :job-id (plist-get result :jobId)
                                     :summary summary :files files :status 'pending
                                     :root root))
            (goto-char (point-min)))
          (display-buffer (current-buffer))
          (current-buffer))))))

(defun efrit-lsp--review-here ()
  "The review of the current buffer; a `user-error' unless it waits for a decision."
  (let ((review efrit-lsp--review))
    (unless review
      (user-error "efrit: no change to review here"))
    (unless (eq (efrit-lsp--review-status review) 'pending)
      (user-error "efrit: this change is already %s"
                  (pcase (efrit-lsp--review-status review)
                    ('accepting "being applied")
                    ('rejecting "being rejected")
                    ('failed "decided (it was not applied)")
                    (status (symbol-name status)))))
    (unless (efrit-lsp--live-p (efrit-lsp--review-server review))
      (user-error "efrit: the server of this change is gone; ask again"))
    review))

(defun efrit-lsp--review-file-at-point ()
  "The `efrit-lsp--review-file' whose diff is at point, or nil."
  (cl-some (lambda (overlay) (overlay-get overlay 'efrit-lsp-review-file))
           (overlays-at (if (and (eobp) (not (bobp))) (1- (point)) (point)))))

(defun efrit-lsp-review-toggle-file ()
  "Reject the file whose diff is at point; if it was rejected, keep it again."
  (interactive)
  (efrit-lsp--review-here)
  (let ((file (efrit-lsp--review-file-at-point)))
    (unless file
      (user-error "efrit: point is not on a file's diff"))
    (let ((rejected (not (efrit-lsp--review-file-rejected file)))
          (overlay (efrit-lsp--review-file-overlay file)))
      (setf (efrit-lsp--review-file-rejected file) rejected)
      (overlay-put overlay 'face (and rejected 'efrit-lsp-review-rejected))
      (overlay-put overlay 'before-string
                   (and rejected (propertize "[rejected] " 'face 'efrit-lsp-review-mark)))
      (force-mode-line-update)
      (message "efrit: %s %s" (if rejected "rejected" "keeping")
               (efrit-lsp--review-file-path file)))))

(defun efrit-lsp-review-next-file (&optional count)
  "Move to the start of the next file's diff; with COUNT, that many."
  (interactive "p")
  (dotimes (_ (or count 1))
    (let ((here (efrit-lsp--review-file-at-point))
          (next (next-overlay-change (point))))
      (when (and here (= next (overlay-start (efrit-lsp--review-file-overlay here))))
        (setq next (next-overlay-change next)))
      (goto-char (if (< next (point-max)) next (point))))))

(defun efrit-lsp-review-previous-file (&optional count)
  "Move to the start of the previous file's diff; with COUNT, that many."
  (interactive "p")
  (dotimes (_ (or count 1))
    (let* ((here (efrit-lsp--review-file-at-point))
           (start (and here (overlay-start (efrit-lsp--review-file-overlay here)))))
      (if (and start (< start (point)))
          (goto-char start)
        (let ((previous (and (> (point) (point-min))
                             (save-excursion
                               (goto-char (1- (point)))
                               (efrit-lsp--review-file-at-point)))))
          (when previous
            (goto-char (overlay-start (efrit-lsp--review-file-overlay previous)))))))))

(defun efrit-lsp-review-visit-file ()
  "Visit the file whose diff is at point, in another window."
  (interactive)
  (let ((file (efrit-lsp--review-file-at-point)))
    (unless file (user-error "efrit: point is not on a file's diff"))
    (let ((name (efrit-lsp--uri-file (efrit-lsp--review-file-uri file))))
      (unless (or (find-buffer-visiting name) (file-exists-p name))
        (user-error "efrit: %s does not exist (yet)" (efrit-lsp--review-file-path file)))
      (find-file-other-window name))))

(defun efrit-lsp--review-uris (files)
  "The URIs that FILES, `efrit-lsp--review-file's, change."
  (delq nil (mapcan (lambda (file)
                      (list (efrit-lsp--review-file-uri file)
                            (efrit-lsp--review-file-new-uri file)))
                    files)))

(defun efrit-lsp--review-decided (review status &optional note)
  "Set REVIEW's STATUS (with NOTE) and show it; close its windows when done."
  (setf (efrit-lsp--review-status review) status
        (efrit-lsp--review-note review) note)
  (force-mode-line-update t)
  (when (memq status '(accepted rejected))
    (dolist (buffer (buffer-list))
      (when (eq (buffer-local-value 'efrit-lsp--review buffer) review)
        (dolist (window (get-buffer-window-list buffer nil t))
          (save-current-buffer (quit-window nil window)))))))

(defun efrit-lsp--save-opened (files)
  "Save the buffers of FILES (names), which a change efrit applied opened.
Unless `efrit-lsp-save-opened-files' is nil; only those modified."
  (dolist (file (and efrit-lsp-save-opened-files files))
    (let ((buffer (find-buffer-visiting file)))
      (when (and buffer (buffer-modified-p buffer))
        (with-current-buffer buffer
          ;; The client may have created the file on disk after opening the buffer.
          (set-visited-file-modtime)
          (condition-case err
              (basic-save-buffer)
            (error (message "efrit: could not save %s: %s" file
                            (error-message-string err)))))))))

(defun efrit-lsp-review-accept ()
  "Apply the change shown, without the files rejected.
The server re-checks it against what was typed and what is on disk
since, then sends it; it is applied without asking again.  With every
file rejected, this rejects the change."
  (interactive)
  (let* ((review (efrit-lsp--review-here))
         (files (efrit-lsp--review-files review))
         (kept (efrit-lsp--review-kept review)))
    (if (null kept)
        (efrit-lsp-review-reject)
      (let* ((excluded (mapcar #'efrit-lsp--review-file-uri
                               (cl-remove-if-not #'efrit-lsp--review-file-rejected files)))
             (opened (cl-loop for file in kept
                              for name = (efrit-lsp--uri-file
                                          (or (efrit-lsp--review-file-new-uri file)
                                              (efrit-lsp--review-file-uri file)))
                              unless (or (eq (efrit-lsp--review-file-kind file) 'delete)
                                         (find-buffer-visiting name))
                              collect name))
             (job (efrit-lsp--job-create :server (efrit-lsp--review-server review)
                                         :kind 'review :title "Apply the reviewed change"
                                         :origin (current-buffer))))
        (efrit-lsp--prepare-created-files
         (efrit-lsp--review-server review)
         (cl-loop for file in kept
                  when (eq (efrit-lsp--review-file-kind file) 'create)
                  collect (efrit-lsp--uri-file (efrit-lsp--review-file-uri file))))
        ;; The server rebases onto what it has: send it what was typed.
        (dolist (file kept)
          (let ((buffer (find-buffer-visiting
                         (efrit-lsp--uri-file (efrit-lsp--review-file-uri file)))))
            (when buffer
              (with-current-buffer buffer
                (efrit-lsp--flush (efrit-lsp--review-server review))))))
        (setf (efrit-lsp--review-status review) 'accepting)
        (push review efrit-lsp--accepting)
        (let ((settle (lambda () (setq efrit-lsp--accepting (delq review efrit-lsp--accepting)))))
          (condition-case err
              (efrit-lsp--send
               job :workspace/executeCommand
               (list :command "efrit.applyJob"
                     :arguments (vector (append (list :jobId (efrit-lsp--review-job-id review))
                                                (and excluded (list :exclude (vconcat excluded))))))
               :on-result
               (lambda (result)
                 (funcall settle)
                 (if (not (eq (plist-get result :applied) t))
                     (progn (efrit-lsp--review-decided review 'failed "the editor did not apply it")
                            (message "efrit: the change was not applied"))
                   (efrit-lsp--save-opened opened)
                   (let ((note (if (= (length kept) (length files))
                                   (format " to %d %s" (length files)
                                           (if (= (length files) 1) "file" "files"))
                                 (format " to %d of %d files" (length kept) (length files)))))
                     (efrit-lsp--review-decided review 'accepted note)
                     (message "efrit: %s — applied%s" (efrit-lsp--review-summary review) note))))
               :on-error
               (lambda (error)
                 (funcall settle)
                 (let ((text (efrit-lsp--error-message error)))
                   (efrit-lsp--review-decided review 'failed text)
                   (message "efrit: the change was not applied: %s" text))))
            (error (funcall settle)
                   (setf (efrit-lsp--review-status review) 'pending)
                   (signal (car err) (cdr err)))))
        (force-mode-line-update)
        (message "efrit: applying the change…")))))

(defun efrit-lsp--review-send-reject (review on-done)
  "Tell REVIEW's server the change is rejected.
Then call ON-DONE with nil, or with the error's text if it failed."
  (efrit-lsp--send-request
   (efrit-lsp--review-server review) :workspace/executeCommand
   (list :command "efrit.rejectJob"
         :arguments (vector (list :jobId (efrit-lsp--review-job-id review))))
   (lambda (_result) (funcall on-done nil))
   (lambda (error) (funcall on-done (efrit-lsp--error-message error)))
   30))

(defun efrit-lsp-review-reject ()
  "Reject the change shown: no file is touched, and the agent is told."
  (interactive)
  (let ((review (efrit-lsp--review-here)))
    (setf (efrit-lsp--review-status review) 'rejecting)
    (efrit-lsp--review-send-reject
     review
     (lambda (problem)
       ;; Nothing was applied either way; the note says when the server did not hear it.
       (efrit-lsp--review-decided review 'rejected
                                  (and problem (format " (the server: %s)" problem)))
       (message "efrit: rejected — nothing was changed%s"
                (if problem (format " (the server: %s)" problem) ""))))
    (force-mode-line-update)))

(defun efrit-lsp--review-killed ()
  "Reject the change of a review buffer killed before a decision."
  (let ((review efrit-lsp--review))
    (when (and review (eq (efrit-lsp--review-status review) 'pending)
               (efrit-lsp--live-p (efrit-lsp--review-server review)))
      (setf (efrit-lsp--review-status review) 'rejected)
      (efrit-lsp--review-send-reject review #'ignore))))

;;;###autoload
(defun efrit-lsp-review ()
  "Go to the change that waits for review (the latest, if several)."
  (interactive)
  (let ((buffer (seq-find (lambda (buffer)
                            (let ((review (buffer-local-value 'efrit-lsp--review buffer)))
                              (and review (eq (efrit-lsp--review-status review) 'pending))))
                          (buffer-list))))
    (unless buffer
      (user-error "efrit: no change waits for review"))
    (pop-to-buffer buffer)))

;;;; The edit the server sends for an accepted review

(defun efrit-lsp--workspace-edit-uris (edit)
  "Every URI the WorkspaceEdit EDIT touches."
  (mapcan (pcase-lambda (`(,kind ,uri ,data ,_))
            (if (eq kind 'rename) (list uri data) (list uri)))
          (efrit-lsp-workspace-edit-changes edit)))

(defun efrit-lsp-reviewed-edit-p (server edit)
  "Non-nil if EDIT, sent by SERVER as workspace/applyEdit, is a reviewed change.
That is: the user accepted a change from SERVER, the accept is in flight,
and EDIT touches only files the user kept.  Clients apply it without
asking again."
  (cl-some (lambda (review)
             (and (eq (efrit-lsp--review-server review) server)
                  (cl-subsetp (efrit-lsp--workspace-edit-uris edit)
                              (efrit-lsp--review-uris (efrit-lsp--review-kept review))
                              :test #'equal)))
           efrit-lsp--accepting))

(provide 'efrit-lsp-review)
;;; efrit-lsp-review.el ends here
