/* An integer division by zero raises SIGFPE (FPE_INTDIV); the handler jumps out. */
#include "edge.h"
#include <setjmp.h>

static sigjmp_buf env;
static void on_fpe(int sig, siginfo_t *si, void *ctx) {
  (void)ctx;
  printf("signal %d code FPE_INTDIV: %d\n", sig, si->si_code == FPE_INTDIV);
  siglongjmp(env, 1);
}

int main(int argc, char **argv) {
  (void)argv;
  struct sigaction sa = {.sa_sigaction = on_fpe, .sa_flags = SA_SIGINFO};
  sigaction(SIGFPE, &sa, NULL);
  volatile int zero = argc - 1, r = 0;
  int caught = sigsetjmp(env, 1);
  if (!caught) r = 100 / zero;
  printf("caught %d, r %d\n", caught, r);
  NEED(caught == 1, "SIGFPE on division by zero");
  PASS();
  return 0;
}
