/* A child made with clone(CLONE_UNTRACED): no tracer may follow it. It computes, reads
 * the time stamp counter and exits with a status the parent checks (issue 14: the
 * recorder hung). */
#include "edge.h"
#include <sched.h>

static int child(void *arg) {
  (void)arg;
  unsigned lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  write(-1, "", 0);
  return getpid() > 0 ? 17 : 1;
}

int main(void) {
  char *stack = malloc(1 << 16);
  pid_t c = clone(child, stack + (1 << 16), CLONE_UNTRACED | SIGCHLD, NULL);
  CHECK(c);
  int st;
  CHECK(waitpid(c, &st, 0));
  printf("untraced child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
  NEED(WIFEXITED(st) && WEXITSTATUS(st) == 17, "a CLONE_UNTRACED child runs");
  PASS();
  return 0;
}
