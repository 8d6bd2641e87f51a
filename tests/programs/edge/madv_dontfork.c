/* MADV_DONTFORK: the region is missing in a forked child (touching it faults). */
#include "edge.h"

int main(void) {
  unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  p[0] = 1;
  CHECK(madvise(p, 4096, MADV_DONTFORK));
  pid_t c = fork();
  CHECK(c);
  if (c == 0) {
    unsigned char vec;
    _exit(mincore(p, 4096, &vec) < 0 && errno == ENOMEM ? 42 : 1);
  }
  int st;
  CHECK(waitpid(c, &st, 0));
  printf("region in the child: %s; in the parent: %d\n", WEXITSTATUS(st) == 42 ? "absent" : "present", p[0]);
  NEED(WIFEXITED(st) && WEXITSTATUS(st) == 42, "MADV_DONTFORK");
  PASS();
  return 0;
}
