/* A program that catches its own int3 with a SIGTRAP handler (issue 14: this died
 * with SIGSEGV while recording). Debug-break macros and runtimes do this. */
#include "edge.h"

static void on_trap(int sig, siginfo_t *si, void *ctx) {
  (void)ctx;
  printf("caught %d (code %d)\n", sig, si->si_code);
}

int main(void) {
  struct sigaction sa = {.sa_sigaction = on_trap, .sa_flags = SA_SIGINFO};
  sigaction(SIGTRAP, &sa, NULL);
  __asm__ volatile("int3");
  printf("after\n");
  __asm__ volatile("int $3");
  printf("after the two-byte form\n");
  PASS();
  return 0;
}
