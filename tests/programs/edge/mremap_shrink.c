/* mremap shrinking a mapping: the cut-off part faults (SIGSEGV, SEGV_MAPERR). */
#include "edge.h"
#include <setjmp.h>

static sigjmp_buf env;
static void on_segv(int sig, siginfo_t *si, void *ctx) {
  (void)ctx;
  printf("caught signal %d code %d\n", sig, si->si_code);
  siglongjmp(env, 1);
}

int main(void) {
  struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
  sigaction(SIGSEGV, &sa, NULL);
  char *p = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  memset(p, 1, 4 * 4096);
  char *q = mremap(p, 4 * 4096, 4096, 0);
  CHECK(q == MAP_FAILED ? -1 : 0);
  printf("kept %d\n", q[100]);
  volatile int faulted = 0;
  if (sigsetjmp(env, 1) == 0) {
    volatile char c = p[2 * 4096];
    (void)c;
  } else {
    faulted = 1;
  }
  NEED(faulted, "a shrunk mapping faults beyond its end");
  PASS();
  return 0;
}
