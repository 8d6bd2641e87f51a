// Calls lseek with junk in the registers it does not read (r10, r8, r9) and in the
// upper half of its int arguments (fd, whence), as code that reuses registers
// freely can: replay compares only the bits the kernel reads. The junk is marked
// (0x4f8bffff in r9) so the test finds this call in the trace and edits it.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static long lseek_with_junk(long fd, long offset, long whence, unsigned long junk) {
  long ret;
  register unsigned long r10 __asm__("r10") = junk ^ 0x1111;
  register unsigned long r8 __asm__("r8") = junk ^ 0x2222;
  register unsigned long r9 __asm__("r9") = junk;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "0"(8L /* lseek */), "D"(fd | (long)(junk << 32)), "S"(offset), "d"(whence | (long)(junk << 32)),
                     "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

int main(int argc, char** argv) {
  (void)argc;
  int fd = open(argv[0], O_RDONLY);
  if (fd < 0) return 2;
  char head[10];
  if (read(fd, head, sizeof head) != (long)sizeof head) return 3;
  long at = lseek_with_junk(fd, 0, SEEK_CUR, 0x4f8bffff);
  printf("lseek says %ld\n", at);
  return at == (long)sizeof head ? 0 : 1;
}
