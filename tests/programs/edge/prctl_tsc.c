/* The program asks for rdtsc to fault (PR_SET_TSC, PR_TSC_SIGSEGV): it then gets
 * SIGSEGV at rdtsc, and PR_GET_TSC reports the mode it set. */
#include "edge.h"
#include <sys/prctl.h>
#include <ucontext.h>

static int faults;
static void on_segv(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  faults++;
  printf("signal %d at rdtsc, code SI_KERNEL: %d\n", sig, si->si_code == SI_KERNEL);
  uc->uc_mcontext.gregs[REG_RIP] += 2;
}

int main(void) {
  int mode = -1;
  CHECK(prctl(PR_GET_TSC, &mode));
  printf("initial mode %d\n", mode);
  struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
  sigaction(SIGSEGV, &sa, NULL);
  CHECK(prctl(PR_SET_TSC, PR_TSC_SIGSEGV));
  CHECK(prctl(PR_GET_TSC, &mode));
  printf("mode after setting: %d\n", mode);
  unsigned lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  CHECK(prctl(PR_SET_TSC, PR_TSC_ENABLE));
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  printf("faults %d\n", faults);
  NEED(mode == PR_TSC_SIGSEGV && faults == 1, "PR_TSC_SIGSEGV");
  PASS();
  return 0;
}
