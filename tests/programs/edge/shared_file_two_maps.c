/* Two MAP_SHARED mappings of the same file page: a store through one shows in the
 * other at once, without any syscall between. */
#include "edge.h"

int main(void) {
  const char *path = scratch("two_maps.dat");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd);
  CHECK(ftruncate(fd, 4096));
  volatile char *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  volatile char *b = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(a == MAP_FAILED || b == MAP_FAILED ? -1 : 0);
  int seen = 0;
  for (int i = 0; i < 1000; i++) {
    a[i] = (char)(i * 7 + 1);
    if (b[i] == (char)(i * 7 + 1)) seen++;
  }
  printf("second mapping saw %d of 1000 stores\n", seen);
  NEED(seen == 1000, "shared mappings of one file page are coherent");
  PASS();
  return 0;
}
