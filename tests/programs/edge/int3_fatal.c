/* An int3 without a handler kills the program with SIGTRAP (shell status 133). */
#include "edge.h"

int main(void) {
  printf("before the trap\n");
  __asm__ volatile("int3");
  printf("never printed\n");
  return 0;
}
