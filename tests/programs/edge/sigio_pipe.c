/* O_ASYNC on a pipe with F_SETSIG: a write makes the kernel send the chosen realtime
 * signal, with the fd and POLL_IN in its siginfo. */
#include "edge.h"

static volatile sig_atomic_t got, fd_seen, code;
static void on_sig(int sig, siginfo_t *si, void *ctx) {
  (void)ctx;
  got = sig;
  fd_seen = si->si_fd;
  code = si->si_code;
}

int main(void) {
  int p[2];
  CHECK(pipe(p));
  struct sigaction sa = {.sa_sigaction = on_sig, .sa_flags = SA_SIGINFO};
  sigaction(SIGRTMIN + 1, &sa, NULL);
  CHECK(fcntl(p[0], F_SETOWN, getpid()));
  CHECK(fcntl(p[0], F_SETSIG, SIGRTMIN + 1));
  CHECK(fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK));
  CHECK(write(p[1], "x", 1));
  for (int i = 0; i < 200 && !got; i++) usleep(10000);
  printf("signal SIGRTMIN+%d, fd is the pipe: %d, code POLL_IN: %d\n", (int)got - SIGRTMIN, fd_seen == p[0],
         code == POLL_IN);
  NEED(got == SIGRTMIN + 1 && fd_seen == p[0], "O_ASYNC delivers the F_SETSIG signal");
  PASS();
  return 0;
}
