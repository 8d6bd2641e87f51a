/* mremap with MREMAP_FIXED moves a mapping to a chosen address; the old range is gone. */
#include "edge.h"

int main(void) {
  char *p = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *target = mmap(NULL, 16 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED || target == MAP_FAILED ? -1 : 0);
  strcpy(p + 4096, "moved bytes");
  char *q = mremap(p, 4 * 4096, 4 * 4096, MREMAP_MAYMOVE | MREMAP_FIXED, target + 8 * 4096);
  CHECK(q == MAP_FAILED ? -1 : 0);
  unsigned char vec;
  int oldGone = mincore(p, 4096, &vec) < 0 && errno == ENOMEM;
  printf("at the target: %s; old range %s; offset %ld pages\n", q + 4096, oldGone ? "unmapped" : "mapped",
         (long)(q - target) / 4096);
  NEED(q == target + 8 * 4096 && oldGone, "MREMAP_FIXED");
  PASS();
  return 0;
}
