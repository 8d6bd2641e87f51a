/* raise() while the signal is blocked leaves it pending (sigpending shows it); it is
 * delivered when sigprocmask unblocks it, before sigprocmask returns. */
#include "edge.h"

static volatile int order;
static int seen_at;
static void on_usr2(int sig) {
  (void)sig;
  seen_at = ++order;
}

int main(void) {
  signal(SIGUSR2, on_usr2);
  sigset_t set, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, NULL);
  raise(SIGUSR2);
  sigpending(&pend);
  printf("pending while blocked: %d, delivered: %d\n", sigismember(&pend, SIGUSR2), seen_at);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  int after = ++order;
  printf("delivered at step %d, before step %d\n", seen_at, after);
  NEED(seen_at == 1 && after == 2, "delivery on unblock");
  PASS();
  return 0;
}
