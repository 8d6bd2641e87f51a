/* A sparse file larger than 4 GiB mapped and read at offsets beyond 2 and 4 GiB (issue
 * 14: the recorder could not store files over 2 GiB). */
#include "edge.h"

int main(void) {
  const char *path = scratch("huge.dat");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd);
  off_t size = (off_t)5 << 30;
  CHECK(ftruncate(fd, size));
  off_t far = ((off_t)9 << 29) + 12345;  /* 4.5 GiB */
  CHECK(pwrite(fd, "far away", 8, far));
  CHECK(pwrite(fd, "past 2G", 7, ((off_t)2 << 30) + 4096));
  struct stat st;
  CHECK(fstat(fd, &st));
  char *whole = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
  NEED(whole != MAP_FAILED, "mapping a 5 GiB file");
  char *window = mmap(NULL, 1 << 20, PROT_READ, MAP_PRIVATE, fd, (off_t)2 << 30);
  NEED(window != MAP_FAILED, "mapping a window beyond 2 GiB");
  printf("size %lld GiB, blocks used under 1 MiB: %d\n", (long long)(st.st_size >> 30), st.st_blocks * 512 < (1 << 20));
  printf("at 4.5 GiB: %.8s; window: %.7s; hole: %d\n", whole + far, window + 4096, whole[(size_t)3 << 30]);
  NEED(memcmp(whole + far, "far away", 8) == 0 && memcmp(window + 4096, "past 2G", 7) == 0, "reading a huge mapping");
  unlink(path);
  PASS();
  return 0;
}
