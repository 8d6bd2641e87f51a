/* kill(0, SIGTERM) without a handler: the program (and its process group) dies of it,
 * shell status 143. */
#include "edge.h"

int main(void) {
  printf("terminating my process group\n");
  kill(0, SIGTERM);
  pause();
  printf("never printed\n");
  return 0;
}
