/* Code written into an anonymous page, made executable with mprotect, and called. */
#include "edge.h"

int main(void) {
  unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  /* lea 0x2a(%rdi),%eax ; ret */
  static const unsigned char code[] = {0x8d, 0x47, 0x2a, 0xc3};
  memcpy(p, code, sizeof code);
  CHECK(mprotect(p, 4096, PROT_READ | PROT_EXEC));
  int (*f)(int) = (int (*)(int))p;
  int r = f(100);
  printf("generated code returned %d\n", r);
  NEED(r == 142, "calling code made executable with mprotect");
  PASS();
  return 0;
}
