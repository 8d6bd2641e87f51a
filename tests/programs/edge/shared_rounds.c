/* Stores through one MAP_SHARED file mapping, read through a second, a round at a
 * time with a syscall in each: under gdb, going back to an earlier round shows the
 * shared memory as it was then (the replay's checkpoints must not share it). */
#include "edge.h"

static volatile int seen;
static volatile int *a, *b;  /* the two mappings of one file page */

__attribute__((noinline)) void round_done(int round) {
  __asm__ volatile("" : : "r"(round) : "memory");  /* a breakpoint site */
}

int main(void) {
  const char *path = scratch("rounds.dat");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd);
  CHECK(ftruncate(fd, 4096));
  a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  b = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(a == MAP_FAILED || b == MAP_FAILED ? -1 : 0);
  for (int round = 1; round <= 10; round++) {
    a[0] = round * 11;
    seen = b[0];
    getppid();
    round_done(round);
  }
  printf("last round saw %d\n", seen);
  NEED(seen == 110, "shared mappings are coherent");
  unlink(path);
  PASS();
  return 0;
}
