/* madvise(MADV_DONTNEED) on private anonymous memory: the pages read as zero
 * afterwards (issue 14: a replay used to drift here). */
#include "edge.h"

int main(void) {
  size_t len = 8 * 4096;
  unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  memset(p, 0xab, len);
  CHECK(madvise(p + 2 * 4096, 3 * 4096, MADV_DONTNEED));
  int zero = 0, kept = 0;
  for (size_t i = 0; i < len; i += 4096) {
    if (p[i] == 0) zero++;
    if (p[i] == 0xab) kept++;
  }
  printf("after MADV_DONTNEED: %d pages zero, %d pages kept\n", zero, kept);
  NEED(zero == 3 && kept == 5, "MADV_DONTNEED zeroes private anonymous pages");
  /* the branch a program takes on it */
  if (p[3 * 4096 + 17] == 0) printf("took the zero branch\n");
  PASS();
  return 0;
}
