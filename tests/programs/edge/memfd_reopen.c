/* A memfd reopened through /proc/self/fd/N and mapped from the new descriptor: the same
 * pages as the first mapping. */
#include "edge.h"

int main(void) {
  int fd = memfd_create("reopen", 0);
  NEED(fd >= 0, "memfd_create");
  CHECK(ftruncate(fd, 4096));
  char *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(a == MAP_FAILED ? -1 : 0);
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  int fd2 = open(link, O_RDWR);
  NEED(fd2 >= 0, "reopening a memfd through /proc/self/fd");
  char *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
  CHECK(b == MAP_FAILED ? -1 : 0);
  strcpy(b + 30, "through the reopened fd");
  printf("first mapping sees: %s\n", a + 30);
  NEED(strcmp(a + 30, "through the reopened fd") == 0, "a reopened memfd is the same file");
  PASS();
  return 0;
}
