/* A privileged instruction (hlt) raises SIGSEGV with si_code SI_KERNEL; the handler
 * skips it by advancing rip in the signal context. */
#include "edge.h"
#include <ucontext.h>

static int count;
static void on_segv(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  count++;
  printf("signal %d code SI_KERNEL: %d\n", sig, si->si_code == SI_KERNEL);
  uc->uc_mcontext.gregs[REG_RIP] += 1;  /* hlt is one byte */
}

int main(void) {
  struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
  sigaction(SIGSEGV, &sa, NULL);
  __asm__ volatile("hlt");
  __asm__ volatile("hlt");
  printf("skipped %d privileged instructions\n", count);
  NEED(count == 2, "hlt faults in user mode");
  PASS();
  return 0;
}
