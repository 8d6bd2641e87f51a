/* manysyscalls: argv[1] iterations (default 100000) of getppid +
 * clock_gettime(CLOCK_MONOTONIC) + a 1-byte write to /dev/null. Used by the
 * benchmarks to measure per-syscall recording overhead. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 100000;
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0) {
        perror("/dev/null");
        return 1;
    }
    long written = 0, same_ppid = 0, clock_ok = 0;
    pid_t first = getppid();
    for (long i = 0; i < iters; i++) {
        if (getppid() == first) same_ppid++;
        struct timespec ts;
        if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) clock_ok++;
        if (write(fd, "x", 1) == 1) written++;
    }
    close(fd);
    printf("manysyscalls: %ld iterations, %ld same ppid, %ld clock reads, %ld bytes written\n",
           iters, same_ppid, clock_ok, written);
    return 0;
}
