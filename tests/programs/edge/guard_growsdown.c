/* A MAP_GROWSDOWN mapping grows down on a store just below it, like a stack; the grown
 * page shows in /proc/self/maps as part of the mapping. */
#include "edge.h"

int main(void) {
  char *base = mmap(NULL, 1024 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(base == MAP_FAILED ? -1 : 0);
  CHECK(munmap(base, 1024 * 4096));
  char *p = mmap(base + 1000 * 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED,
                 -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  p[0] = 1;
  p[-1] = 2;  /* grows by a page */
  printf("grown store read back: %d\n", p[-1]);
  FILE *maps = fopen("/proc/self/maps", "r");
  char line[512];
  int pages = 0;
  while (maps && fgets(line, sizeof line, maps)) {
    unsigned long s, e;
    if (sscanf(line, "%lx-%lx", &s, &e) == 2 && e == (unsigned long)(p + 4096)) pages = (int)((e - s) / 4096);
  }
  printf("mapping now %d pages\n", pages);
  NEED(p[-1] == 2, "MAP_GROWSDOWN grows");
  PASS();
  return 0;
}
