/* A file holding machine code, mapped PROT_READ|PROT_EXEC and called (issue 14: this
 * used to die while recording). */
#include "edge.h"

int main(void) {
  const char *path = scratch("code.bin");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0700);
  CHECK(fd);
  /* mov %edi,%eax ; imul %esi,%eax ; ret */
  static const unsigned char code[] = {0x89, 0xf8, 0x0f, 0xaf, 0xc6, 0xc3};
  char page[4096] = {0};
  memcpy(page + 64, code, sizeof code);
  CHECK(write(fd, page, sizeof page));
  unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
  NEED(p != MAP_FAILED, "mapping a file executable");
  close(fd);
  int (*mul)(int, int) = (int (*)(int, int))(p + 64);
  int r = mul(6, 7);
  printf("code from the file page returned %d\n", r);
  NEED(r == 42, "calling into a file page");
  unlink(path);
  PASS();
  return 0;
}
