/* kill(0, SIGABRT) signals the program's own process group, as shells, supervisors and
 * timeout(1) do (issue 14: it killed the recorder too). */
#include "edge.h"

static volatile sig_atomic_t got;
static void on_abrt(int sig) { got = sig; }

int main(void) {
  signal(SIGABRT, on_abrt);
  CHECK(kill(0, SIGABRT));
  printf("caught %d\n", (int)got);
  NEED(got == SIGABRT, "kill(0) reaches the caller");
  CHECK(killpg(getpgrp(), SIGABRT));
  printf("killpg: caught %d\n", (int)got);
  PASS();
  return 0;
}
