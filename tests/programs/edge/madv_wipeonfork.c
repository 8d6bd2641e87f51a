/* MADV_WIPEONFORK: a forked child sees the region zero-filled, the parent keeps it.
 * The child reports through its exit status (children are not recorded). */
#include "edge.h"

int main(void) {
  unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  p[100] = 7;
  CHECK(madvise(p, 4096, MADV_WIPEONFORK));
  pid_t c = fork();
  CHECK(c);
  if (c == 0) _exit(p[100] == 0 ? 42 : 1);
  int st;
  CHECK(waitpid(c, &st, 0));
  printf("child saw %s, parent sees %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 42 ? "zero" : "data", p[100]);
  NEED(WIFEXITED(st) && WEXITSTATUS(st) == 42 && p[100] == 7, "MADV_WIPEONFORK");
  PASS();
  return 0;
}
