/* MREMAP_DONTUNMAP: the pages move to the new address and the old range stays mapped,
 * reading as zero (private anonymous). */
#include "edge.h"
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

int main(void) {
  unsigned char *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  memset(p, 0x77, 2 * 4096);
  unsigned char *q = (unsigned char *)syscall(SYS_mremap, p, 2 * 4096, 2 * 4096, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
  NEED(q != MAP_FAILED, "MREMAP_DONTUNMAP");
  printf("new 0x%02x, old 0x%02x\n", q[10], p[10]);
  NEED(q[10] == 0x77 && p[10] == 0, "MREMAP_DONTUNMAP leaves zero pages behind");
  PASS();
  return 0;
}
