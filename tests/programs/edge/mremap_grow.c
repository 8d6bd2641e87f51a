/* mremap growing a private anonymous mapping (moving it): the old bytes move, the new
 * part reads as zero (issue 14: a replay used to drift here). */
#include "edge.h"

int main(void) {
  size_t len = 2 * 4096;
  unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  memset(p, 0x11, len);
  /* a neighbour right after it forces the grown mapping to move */
  void *block = mmap(p + len, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  unsigned char *q = mremap(p, len, 64 * 4096, MREMAP_MAYMOVE);
  CHECK(q == MAP_FAILED ? -1 : 0);
  int moved = q != p;
  uint32_t sum = 0;
  for (size_t i = 0; i < 64 * 4096; i++) sum += q[i];
  printf("grew %s, old part 0x%02x, new part 0x%02x, byte sum %u\n", moved ? "by moving" : "in place", q[4096],
         q[10 * 4096], sum);
  NEED(q[4096] == 0x11 && q[10 * 4096] == 0 && sum == 0x11 * len, "mremap keeps old bytes and zero-fills");
  (void)block;
  q[63 * 4096] = 9;
  printf("wrote the new end: %d\n", q[63 * 4096]);
  PASS();
  return 0;
}
