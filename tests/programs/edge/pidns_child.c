/* A child in a new pid namespace is pid 1 there; the parent waits for it (issue 14:
 * the recorder hung). The child reports through its exit status. */
#include "edge.h"
#include <sched.h>

int main(void) {
  if (unshare(CLONE_NEWPID) < 0) {
    printf("unshare(CLONE_NEWPID): %s\n", errname(errno));
    NEED(0, "pid namespaces (needs CAP_SYS_ADMIN)");
  }
  pid_t c = fork();
  CHECK(c);
  if (c == 0) _exit(getpid() == 1 ? 41 : 1);
  int st;
  CHECK(waitpid(c, &st, 0));
  printf("child was pid 1 in its namespace: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 41);
  NEED(WIFEXITED(st) && WEXITSTATUS(st) == 41, "pid 1 in a new pid namespace");
  PASS();
  return 0;
}
