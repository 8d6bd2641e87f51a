/* unknown_syscall: prints a line, then makes syscall number 1000, which no
 * kernel has (natively: -1, errno ENOSYS). The recorder lets the kernel answer
 * and records the ENOSYS; replay returns it again. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    printf("before unknown syscall\n");
    fflush(stdout);

    errno = 0;
    long r = syscall(1000);
    int e = errno;
    printf("syscall(1000) = %ld errno=%d (%s)\n", r, e, strerror(e));
    return 0;
}
