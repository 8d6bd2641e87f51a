/* ud2 raises SIGILL (ILL_ILLOPN); the handler skips the two bytes. */
#include "edge.h"
#include <ucontext.h>

static void on_ill(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  printf("signal %d code ILL_ILLOPN: %d\n", sig, si->si_code == ILL_ILLOPN);
  uc->uc_mcontext.gregs[REG_RIP] += 2;
}

int main(void) {
  struct sigaction sa = {.sa_sigaction = on_ill, .sa_flags = SA_SIGINFO};
  sigaction(SIGILL, &sa, NULL);
  __asm__ volatile("ud2");
  printf("after ud2\n");
  PASS();
  return 0;
}
