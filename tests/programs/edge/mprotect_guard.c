/* A PROT_NONE guard page between two writable pages: a store into it raises SIGSEGV
 * with SEGV_ACCERR at that address; the handler makes it writable and the store is
 * retried. */
#include "edge.h"

static char *region;
static void on_segv(int sig, siginfo_t *si, void *ctx) {
  (void)ctx;
  long page = ((char *)si->si_addr - region) / 4096;
  printf("signal %d code %d at page %ld\n", sig, si->si_code, page);
  mprotect(region + 4096, 4096, PROT_READ | PROT_WRITE);
}

int main(void) {
  struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
  sigaction(SIGSEGV, &sa, NULL);
  region = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(region == MAP_FAILED ? -1 : 0);
  CHECK(mprotect(region + 4096, 4096, PROT_NONE));
  region[0] = 1;
  region[2 * 4096] = 3;
  region[4096 + 8] = 2;  /* faults once */
  printf("values %d %d %d\n", region[0], region[4096 + 8], region[2 * 4096]);
  NEED(region[4096 + 8] == 2, "a guard page fault can be handled and retried");
  PASS();
  return 0;
}
