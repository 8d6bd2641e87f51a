/* Between recorded processes: a socketpair ping-pong; kill() of a child waiting in
 * sigsuspend, reaped with waitid; a child in its own session (setsid); a child in
 * its own process group killed through the group (kill(-pgid)). Every step waits
 * for the child to say it is ready, so the output does not depend on scheduling. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void onUsr1(int sig) { got = sig; }

static void ready(int fd) {
  if (write(fd, "r", 1) != 1) _exit(90);
}

static void awaitReady(int fd) {
  char c;
  if (read(fd, &c, 1) != 1) _exit(91);
}

int main(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  pid_t a = fork();
  if (a == 0) {
    close(sv[0]);
    char buf[8] = {0};
    if (write(sv[1], "ping", 4) != 4 || read(sv[1], buf, 4) != 4) _exit(2);
    printf("child a got %s\n", buf);
    fflush(stdout);
    _exit(0);
  }
  close(sv[1]);
  char buf[8] = {0};
  if (read(sv[0], buf, 4) != 4 || write(sv[0], "pong", 4) != 4) return 1;
  waitpid(a, NULL, 0);
  printf("parent got %s\n", buf);
  fflush(stdout);

  int p[2];
  if (pipe(p) != 0) return 1;
  pid_t b = fork();
  if (b == 0) {
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &old);
    signal(SIGUSR1, onUsr1);
    pid_t sid = setsid();
    printf("child b leads its session: %d\n", sid == getpid() && getsid(0) == getpid());
    fflush(stdout);
    ready(p[1]);
    while (!got) sigsuspend(&old);
    printf("child b got signal %d\n", got);
    fflush(stdout);
    _exit(5);
  }
  awaitReady(p[0]);
  kill(b, SIGUSR1);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid(P_PID, (id_t)b, &si, WEXITED) != 0) return 1;
  printf("waitid: child b %s %d\n", si.si_code == CLD_EXITED ? "exited" : "ended otherwise", si.si_status);
  fflush(stdout);

  pid_t c = fork();
  if (c == 0) {
    setpgid(0, 0);
    printf("child c is its group's leader: %d\n", getpgrp() == getpid());
    fflush(stdout);
    ready(p[1]);
    for (;;) pause();
  }
  awaitReady(p[0]);
  kill(-c, SIGTERM);
  int st;
  if (waitpid(c, &st, 0) != c) return 1;
  printf("child c killed by signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
  return 0;
}
