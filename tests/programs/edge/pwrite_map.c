/* A file mapping reads what pwrite() wrote after it was mapped: shared, and private
 * pages the program has not written yet (issue 14: a replay used to drift here). */
#include "edge.h"

int main(void) {
  const char *path = scratch("pwrite_map.dat");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd);
  CHECK(ftruncate(fd, 2 * 4096));
  char *s = mmap(NULL, 2 * 4096, PROT_READ, MAP_SHARED, fd, 0);
  char *pv = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(s == MAP_FAILED || pv == MAP_FAILED ? -1 : 0);
  pv[4096] = 'P';  /* this private page is now the program's own copy */
  CHECK(pwrite(fd, "hello", 5, 100));
  CHECK(pwrite(fd, "world", 5, 4096 + 100));
  printf("shared: %.5s %.5s\n", s + 100, s + 4096 + 100);
  printf("private untouched page: %.5s; written page: %c%c\n", pv + 100, pv[4096], pv[4096 + 100] ? '?' : '0');
  NEED(memcmp(s + 100, "hello", 5) == 0 && memcmp(s + 4096 + 100, "world", 5) == 0, "pwrite shows in a shared map");
  NEED(memcmp(pv + 100, "hello", 5) == 0 && pv[4096 + 100] == 0, "pwrite shows in untouched private pages only");
  unlink(path);
  PASS();
  return 0;
}
