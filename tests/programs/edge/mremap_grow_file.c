/* mremap growing a file mapping: the new part shows the file's bytes. */
#include "edge.h"

int main(void) {
  const char *path = scratch("mremap.dat");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd);
  char page[4096];
  for (int i = 0; i < 8; i++) {
    memset(page, 'A' + i, sizeof page);
    CHECK(write(fd, page, sizeof page));
  }
  char *p = mmap(NULL, 2 * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  char *q = mremap(p, 2 * 4096, 8 * 4096, MREMAP_MAYMOVE);
  CHECK(q == MAP_FAILED ? -1 : 0);
  printf("grown file mapping: %c %c %c %c\n", q[0], q[4096], q[5 * 4096], q[7 * 4096 + 4095]);
  NEED(q[5 * 4096] == 'F' && q[7 * 4096 + 4095] == 'H', "mremap maps more of the file");
  unlink(path);
  PASS();
  return 0;
}
