/* Stores through a MAP_SHARED mapping reach the file: unmapped and mapped again
 * (privately, and shared), the file shows them; repeated stores to the same dirty page
 * too (its mtime does not change again). */
#include "edge.h"

int main(void) {
  const char *path = scratch("remap.dat");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd);
  CHECK(ftruncate(fd, 4096));
  uint32_t sums[3];
  for (int round = 0; round < 3; round++) {
    char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(w == MAP_FAILED ? -1 : 0);
    for (int i = 0; i < 4096; i++) w[i] = (char)(w[i] + round + i);
    CHECK(munmap(w, 4096));
    char *r = mmap(NULL, 4096, PROT_READ, round == 1 ? MAP_SHARED : MAP_PRIVATE, fd, 0);
    CHECK(r == MAP_FAILED ? -1 : 0);
    sums[round] = fnv(r, 4096);
    printf("round %d: digest %08x, byte 5 = %d\n", round, sums[round], r[5]);
    CHECK(munmap(r, 4096));
  }
  NEED(sums[0] != sums[1] && sums[1] != sums[2], "stores through a shared mapping reach the file");
  unlink(path);
  PASS();
  return 0;
}
