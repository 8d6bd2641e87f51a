/* Prints "ready" and blocks until SIGUSR1, which the test never sends: the recorder is
 * ended with SIGTERM or SIGINT meanwhile, and its trace must replay up to there. */
#include "edge.h"

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  printf("ready\n");
  int sig = 0;
  sigwait(&set, &sig);
  printf("woken by %d\n", sig);
  return 0;
}
