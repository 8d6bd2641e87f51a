/* A blocked signal read through a signalfd, with its sender's pid and value. */
#include "edge.h"
#include <sys/signalfd.h>

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int fd = signalfd(-1, &set, 0);
  NEED(fd >= 0, "signalfd");
  sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 77});
  struct signalfd_siginfo si;
  ssize_t n = read(fd, &si, sizeof si);
  printf("read %zd bytes: signal %u value %d from myself: %d\n", n, si.ssi_signo, si.ssi_int, si.ssi_pid == (uint32_t)getpid());
  NEED(n == sizeof si && si.ssi_signo == SIGUSR1 && si.ssi_int == 77, "signalfd delivers");
  PASS();
  return 0;
}
