/* A MAP_SHARED file mapping written through the mapping, read back with read(). */
#include "edge.h"

int main(void) {
  const char *path = scratch("shared_read.dat");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd);
  CHECK(ftruncate(fd, 8192));
  char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  strcpy(p + 4096 + 10, "written through the mapping");
  char buf[64] = {0};
  CHECK(pread(fd, buf, 27, 4096 + 10));
  printf("read() sees: %s\n", buf);
  NEED(strcmp(buf, "written through the mapping") == 0, "read() sees stores to a shared mapping");
  if (buf[0] == 'w') printf("branch on the read bytes\n");
  unlink(path);
  PASS();
  return 0;
}
