/* Ignores SIGINT and SIGTERM, prints "ready" and spins in a loop with no syscalls
 * (until SIGKILL): the recorder must still end promptly on SIGINT or SIGTERM. */
#include "edge.h"

int main(void) {
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  printf("ready\n");
  volatile unsigned long n = 0;
  for (;;) n++;
}
