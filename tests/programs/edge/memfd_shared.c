/* memfd_create: two shared mappings of one memfd, and a read() through the fd, all see
 * one store; the fd's name shows in /proc/self/fd. */
#include "edge.h"

int main(void) {
  int fd = memfd_create("edge-memfd", MFD_CLOEXEC);
  NEED(fd >= 0, "memfd_create");
  CHECK(ftruncate(fd, 3 * 4096));
  char *a = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  char *b = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 2 * 4096);
  CHECK(a == MAP_FAILED || b == MAP_FAILED ? -1 : 0);
  strcpy(a + 2 * 4096 + 8, "in the memfd");
  char buf[32] = {0};
  CHECK(pread(fd, buf, 12, 2 * 4096 + 8));
  char link[64], target[256] = {0};
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  CHECK(readlink(link, target, sizeof target - 1));
  printf("second mapping: %s; read(): %s; link: %s\n", b + 8, buf, target);
  NEED(strcmp(b + 8, "in the memfd") == 0 && strcmp(buf, "in the memfd") == 0, "memfd mappings are shared");
  PASS();
  return 0;
}
