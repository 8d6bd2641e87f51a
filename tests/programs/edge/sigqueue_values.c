/* sigqueue with values: blocked realtime signals queue in order with their values; a
 * standard signal queued twice is delivered once. */
#include "edge.h"

static int order[16], values[16], codes[16], n;
static void on_sig(int sig, siginfo_t *si, void *ctx) {
  (void)ctx;
  if (n < 16) {
    order[n] = sig;
    values[n] = si->si_value.sival_int;
    codes[n] = si->si_code;
    n++;
  }
}

int main(void) {
  struct sigaction sa = {.sa_sigaction = on_sig, .sa_flags = SA_SIGINFO};
  sigaction(SIGRTMIN, &sa, NULL);
  sigaction(SIGRTMIN + 2, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN);
  sigaddset(&set, SIGRTMIN + 2);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  for (int v = 1; v <= 3; v++) sigqueue(getpid(), SIGRTMIN + 2, (union sigval){.sival_int = v * 10});
  sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 99});
  sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 5});
  sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 6});
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  for (int i = 0; i < n; i++)
    printf("%d: signal %d value %d SI_QUEUE %d\n", i, order[i], values[i], codes[i] == SI_QUEUE);
  NEED(n == 5, "queued realtime signals");
  PASS();
  return 0;
}
