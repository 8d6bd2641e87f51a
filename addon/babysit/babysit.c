/* rewind-babysit PID...: keeps serving the recorded program's child processes after
 * the recorder has ended (docs/usage.md, "Child processes").
 *
 * Recorded with the syscall buffer, a program's children inherit its seccomp
 * filter, which sends every syscall made outside the buffer's own instruction to a
 * tracer, and fails it with ENOSYS when there is none. The recorder traces them
 * for that alone; when the recorded process ends it stops each one with a SIGSTOP
 * of its own, detaches, and starts this helper, which attaches to them
 * (PTRACE_SEIZE), lets them go on (SIGCONT), and from then on resumes every stop:
 * their syscalls run as if nobody traced them. Job-control stops stay stops
 * (PTRACE_LISTEN). Their own children are attached automatically. It exits when
 * the last of them has ended, so a daemon the program started lives on, as it
 * would natively, without keeping the recorder.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long opts = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE;
  int held = 0;
  for (int i = 1; i < argc; i++) {
    pid_t pid = (pid_t)atoi(argv[i]);
    if (pid <= 0 || ptrace(PTRACE_SEIZE, pid, 0, (void *)opts) != 0) continue;
    kill(pid, SIGCONT);
    held++;
  }
  if (!held) return 1;
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, __WALL);
    if (pid < 0) {
      if (errno == EINTR) continue;
      return 0; /* ECHILD: every one of them has ended */
    }
    if (!WIFSTOPPED(status)) continue;
    int event = status >> 16, sig = WSTOPSIG(status);
    if (event == PTRACE_EVENT_STOP) {
      /* a group-stop (job control) stays a stop; any other such stop goes on */
      if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) ptrace(PTRACE_LISTEN, pid, 0, 0);
      else ptrace(PTRACE_CONT, pid, 0, 0);
    } else if (event) {
      ptrace(PTRACE_CONT, pid, 0, 0); /* seccomp: the syscall runs; fork: the child is attached */
    } else {
      ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig); /* a signal: delivered */
    }
  }
}
