/* MAP_SHARED of /dev/zero is shared anonymous memory: zero at first, MADV_DONTNEED keeps
 * stores. */
#include "edge.h"

int main(void) {
  int fd = open("/dev/zero", O_RDWR);
  CHECK(fd);
  unsigned char *p = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  int zero = p[0] == 0 && p[3 * 4096] == 0;
  p[4096] = 0x42;
  CHECK(madvise(p, 4 * 4096, MADV_DONTNEED));
  printf("initially zero: %d; after MADV_DONTNEED: 0x%02x\n", zero, p[4096]);
  NEED(zero && p[4096] == 0x42, "a shared /dev/zero mapping is shmem");
  PASS();
  return 0;
}
