/* Run in a terminal, Ctrl-C reaches the program (its process group has the terminal),
 * whose handler prints it. The test types the Ctrl-C after "ready". */
#include "edge.h"

static volatile sig_atomic_t got;
static void on_int(int sig) { got = sig; }

int main(void) {
  signal(SIGINT, on_int);
  printf("ready\n");
  while (!got) pause();
  printf("caught SIGINT %d; my group has the terminal: %d\n", (int)got, tcgetpgrp(0) == getpgrp());
  NEED(got == SIGINT, "Ctrl-C in a terminal");
  PASS();
  return 0;
}
