;;; emacs-gud.el --- drive Emacs's M-x gdb (gud with gdb-mi) against a rewind replay
;; Run by ide-frontends.test.ts as: emacs --batch -Q -l emacs-gud.el, with
;; RW_GDB_COMMAND (the command line M-x gdb is given, as docs/ide.md says), RW_BREAK
;; (a breakpoint location) and RW_COMMANDS (gdb commands typed into the gud buffer,
;; separated by ";"). After each command has stopped the program and gdb-mi has
;; read the new frame, prints "@emacs COMMAND FILE LINE PC": where Emacs shows the
;; program. Waits are bounded so a broken session fails instead of hanging.
(require 'gdb-mi)
(setq gdb-many-windows nil gdb-show-main nil)

(defvar rw-stops 0 "How many *stopped records gdb-mi has handled.")
(advice-add 'gdb-stopped :after (lambda (&rest _) (setq rw-stops (1+ rw-stops))))

(defun rw-settled ()
  "gdb-mi has no command in flight."
  (and (null gdb-handler-list)
       (or (not (boundp 'gdb-pending-triggers)) (null gdb-pending-triggers))))

(defun rw-wait (pred what)
  (let ((deadline (+ (float-time) 60)))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (unless (funcall pred)
      (when (buffer-live-p gud-comint-buffer)
        (with-current-buffer gud-comint-buffer (princ (buffer-string))))
      (error "timed out waiting for %s" what))))

(defun rw-type (command)
  (with-current-buffer gud-comint-buffer (gud-call command)))

(defun rw-stop-after (command)
  (let ((before rw-stops))
    (setq gdb-frame-address nil)
    (rw-type command)
    (rw-wait (lambda () (and (> rw-stops before) (rw-settled) gdb-frame-address)) command)
    (princ (format "@emacs %s %s %s %s\n" command gdb-selected-file gdb-selected-line gdb-frame-address))))

(gdb (getenv "RW_GDB_COMMAND"))
(rw-wait (lambda () (and (> rw-stops 0) (rw-settled))) "the connection to the replay")
(rw-type (concat "break " (getenv "RW_BREAK")))
(rw-wait #'rw-settled "break")
(dolist (command (split-string (getenv "RW_COMMANDS") ";"))
  (rw-stop-after command))
(kill-process (get-buffer-process gud-comint-buffer))
