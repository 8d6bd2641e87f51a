/* bufloop: loops of calls the syscall buffer makes in-process (docs/syscallbuf.md),
 * with values gdb can check. Phase 1 stores N pseudo-random values in `word`, one
 * at a time, and writes each to the file argv[2] with pwrite (plus an lseek); phase 2
 * reads them back with pread into `word` (a store only the call makes) and folds
 * them into `check` in got(). Prints the count, the last value and the check.
 * argv[1]: N. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

unsigned long word;  /* stored by the program in phase 1, by pread in phase 2 */
unsigned long check;
unsigned long seen;  /* the value phase 2 read last */

__attribute__((noinline)) void got(long i, unsigned long v) {
    seen = v;
    check = check * 31 + v + (unsigned long)i;
}

__attribute__((noinline)) void done(void) { __asm__ volatile(""); }

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bufloop N FILE\n");
        return 2;
    }
    long n = atol(argv[1]);
    int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    unsigned long x = 12345;
    for (long i = 0; i < n; i++) {
        x = x * 6364136223846793005ul + 1442695040888963407ul;
        word = x;
        if (pwrite(fd, &word, 8, i * 8) != 8) return 1;
        if (lseek(fd, 0, SEEK_CUR) < 0) return 1;
    }
    for (long i = 0; i < n; i++) {
        if (pread(fd, &word, 8, i * 8) != 8) return 1;
        got(i, word);
    }
    close(fd);
    done();
    printf("bufloop: %ld values, last %lx, check %lx\n", n, seen, check);
    return 0;
}
