/* MAP_SHARED|MAP_ANONYMOUS memory survives mremap growth within the process; a
 * forked child's writes to it reach the parent. */
#include "edge.h"

int main(void) {
  int *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  p[0] = 1;
  pid_t c = fork();
  CHECK(c);
  if (c == 0) {
    p[0] = 1234;
    _exit(0);
  }
  int st;
  CHECK(waitpid(c, &st, 0));
  printf("parent reads the child's store: %d\n", p[0]);
  NEED(p[0] == 1234, "shared anonymous memory is shared with a child");
  PASS();
  return 0;
}
