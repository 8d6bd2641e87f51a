/* PTRACE_TRACEME as an anti-debugging check: natively it succeeds (nobody traces the
 * program); a traced program gets EPERM. The program prints only that it could ask. */
#include "edge.h"
#include <sys/ptrace.h>

int main(void) {
  errno = 0;
  long r = ptrace(PTRACE_TRACEME, 0, 0, 0);
  int e = errno;
  printf("PTRACE_TRACEME answered: %s\n", r == 0 || e == EPERM ? "yes" : errname(e));
  PASS();
  return 0;
}
