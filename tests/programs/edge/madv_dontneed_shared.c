/* madvise(MADV_DONTNEED) on shared anonymous memory only drops the page table
 * entries: the data stays (it lives in shmem). MADV_REMOVE then frees it. */
#include "edge.h"

int main(void) {
  size_t len = 4 * 4096;
  unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  memset(p, 0x5a, len);
  CHECK(madvise(p, len, MADV_DONTNEED));
  printf("shared anonymous after MADV_DONTNEED: 0x%02x\n", p[4096 + 5]);
  NEED(p[4096 + 5] == 0x5a, "MADV_DONTNEED keeps shared anonymous data");
  CHECK(madvise(p + 4096, 4096, MADV_REMOVE));
  printf("after MADV_REMOVE: 0x%02x 0x%02x\n", p[5], p[4096 + 5]);
  NEED(p[5] == 0x5a && p[4096 + 5] == 0, "MADV_REMOVE frees shared anonymous pages");
  PASS();
  return 0;
}
