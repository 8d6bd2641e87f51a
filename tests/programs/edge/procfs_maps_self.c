/* /proc/self/maps describes a fresh shared mapping and a private file mapping with the
 * right permissions and offset. */
#include "edge.h"

int main(void) {
  const char *path = scratch("maps.dat");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd);
  CHECK(ftruncate(fd, 4 * 4096));
  char *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  char *f = mmap(NULL, 2 * 4096, PROT_READ, MAP_PRIVATE, fd, 2 * 4096);
  CHECK(s == MAP_FAILED || f == MAP_FAILED ? -1 : 0);
  FILE *maps = fopen("/proc/self/maps", "r");
  char line[512];
  while (fgets(line, sizeof line, maps)) {
    unsigned long start, end, off;
    char perms[5];
    if (sscanf(line, "%lx-%lx %4s %lx", &start, &end, perms, &off) != 4) continue;
    if (start == (unsigned long)s) printf("shared anonymous: %s, %lu pages\n", perms, (end - start) / 4096);
    if (start == (unsigned long)f) printf("file mapping: %s, offset %lu pages, %s", perms, off / 4096, strstr(line, "maps.dat") ? "named\n" : "unnamed\n");
  }
  unlink(path);
  PASS();
  return 0;
}
