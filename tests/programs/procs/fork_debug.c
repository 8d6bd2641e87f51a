/* A forked child calls child_work three times and exits with the sum; the parent
 * waits and prints what it saw. gdb debugs the child (replay --pid). */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int child_work(int i) {
  int sum = 0;
  for (int k = 0; k <= i; k++) sum += k * 10;
  printf("child step %d: %d\n", i, sum);
  fflush(stdout);
  return sum;
}

int main(void) {
  printf("parent starts\n");
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    int total = 0;
    for (int i = 0; i < 3; i++) total += child_work(i);
    _exit(total);
  }
  int st;
  waitpid(p, &st, 0);
  printf("parent saw %d\n", WEXITSTATUS(st));
  return 0;
}
