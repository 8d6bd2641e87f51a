/* bufhot: a loop of buffered reads with a hot function between them (docs/timeline.md,
 * "Counting across events"): argv[1] reads of one byte from /dev/zero (default 200),
 * each followed by argv[2] calls of hot(j) (default 2000); marker(k) is called once,
 * after the read of the middle iteration k; then done(). Prints the sum. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

volatile unsigned long sum;

__attribute__((noinline)) void hot(unsigned long j) { sum += j; }
__attribute__((noinline)) void marker(int k) { sum ^= (unsigned long)k; }
__attribute__((noinline)) void done(void) { __asm__ volatile(""); }

int main(int argc, char **argv) {
  int reads = argc > 1 ? atoi(argv[1]) : 200;
  int calls = argc > 2 ? atoi(argv[2]) : 2000;
  int fd = open("/dev/zero", O_RDONLY);
  if (fd < 0) return 1;
  char b[8];
  for (int k = 0; k < reads; k++) {
    if (read(fd, b, 1) != 1) return 1;
    if (k == reads / 2) marker(k);
    for (int j = 0; j < calls; j++) hot((unsigned long)j);
  }
  done();
  printf("bufhot: sum %lu\n", sum);
  return 0;
}
