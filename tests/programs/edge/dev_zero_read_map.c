/* Reads 64 MiB from /dev/zero and maps 64 MiB of /dev/zero privately (issue 14: the
 * recorder tried to store the device as a file and grew until the OOM killer). */
#include "edge.h"

int main(void) {
  size_t len = 64u << 20;
  int fd = open("/dev/zero", O_RDONLY);
  CHECK(fd);
  char *buf = malloc(len);
  CHECK(buf ? 0 : -1);
  memset(buf, 1, len);
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    CHECK(n);
    got += (size_t)n;
  }
  unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  NEED(p != MAP_FAILED, "mapping /dev/zero");
  unsigned long nonzero = 0;
  for (size_t i = 0; i < len; i += 4096) nonzero += buf[i] != 0;
  for (size_t i = 0; i < len; i += 4096 * 16) nonzero += p[i] != 0;
  p[len - 1] = 5;
  printf("read %zu bytes, mapped %zu MiB, nonzero pages %lu, last byte %d\n", got, len >> 20, nonzero, p[len - 1]);
  NEED(nonzero == 0, "/dev/zero reads zero");
  PASS();
  return 0;
}
