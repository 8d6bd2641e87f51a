/* madvise(MADV_DONTNEED) on a private file mapping: written pages are dropped and
 * read the file's bytes again. */
#include "edge.h"

int main(void) {
  const char *path = scratch("dontneed.dat");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd);
  char page[4096];
  for (int i = 0; i < 4; i++) {
    memset(page, 'a' + i, sizeof page);
    CHECK(write(fd, page, sizeof page));
  }
  char *p = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  memset(p, 'z', 4 * 4096);
  CHECK(madvise(p + 4096, 2 * 4096, MADV_DONTNEED));
  printf("pages after MADV_DONTNEED: %c %c %c %c\n", p[0], p[4096], p[2 * 4096], p[3 * 4096]);
  NEED(p[0] == 'z' && p[4096] == 'b' && p[2 * 4096] == 'c' && p[3 * 4096] == 'z',
       "MADV_DONTNEED re-reads a private file mapping from the file");
  unlink(path);
  PASS();
  return 0;
}
