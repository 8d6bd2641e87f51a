/* Reads /dev/urandom (the bytes differ per run, so only their properties are printed),
 * and mmap of it fails with ENODEV. */
#include "edge.h"

int main(void) {
  int fd = open("/dev/urandom", O_RDONLY);
  CHECK(fd);
  unsigned char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  int distinct = 0, seen[256] = {0};
  for (ssize_t i = 0; i < n; i++)
    if (!seen[buf[i]]++) distinct++;
  printf("read %zd random bytes, more than 200 distinct values: %d\n", n, distinct > 200);
  void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  printf("mmap of /dev/urandom: %s\n", p == MAP_FAILED ? errname(errno) : "mapped");
  NEED(n == 4096 && distinct > 200, "/dev/urandom");
  /* the program branches on the random bytes: replay must take the same branch */
  pid_t seen_pid = (buf[0] & 1) ? getpid() : getppid();
  printf("took a branch on a random byte: %d\n", seen_pid > 0);
  PASS();
  return 0;
}
