/* Exec'd by exec_parent: calls exec_work three times and exits with the sum. */
#include <stdio.h>

static int exec_work(int i) {
  int sum = 0;
  for (int k = 0; k <= i; k++) sum += k * 7;
  printf("exec'd step %d: %d\n", i, sum);
  fflush(stdout);
  return sum;
}

int main(void) {
  int total = 0;
  for (int i = 0; i < 3; i++) total += exec_work(i);
  return total;
}
