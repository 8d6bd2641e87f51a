/* pipewrite: writes a lot to stdout, the way tar -v and cat do, checking every
 * write. Meant for a stdout that is a pipe or socket read slowly: a writer that
 * is faster than its reader fills it and must block, never fail.
 *
 * First reports on stderr whether fds 0, 1 and 2 are non-blocking (what a
 * program inherits is part of what it sees). Then, for argv[1] bytes (default
 * 8 MiB) of a deterministic pattern: write(2) in chunks of cycling sizes, up to
 * more than a pipe holds, continuing after short writes (counted); then argv[2]
 * (default 5000) lines written one write(2) each; then as many lines through
 * stdio. Any failed write is reported like tar does and ends with status 2.
 * Ends with a summary line on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long calls, shortWrites, total;

static void writeAll(const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(1, p, n);
        calls++;
        if (w < 0) {
            fprintf(stderr, "pipewrite: stdout: write error after %ld bytes: %s\n", total, strerror(errno));
            exit(2);
        }
        if ((size_t)w < n) shortWrites++;
        p += w;
        n -= (size_t)w;
        total += w;
    }
}

int main(int argc, char **argv) {
    long bytes = argc > 1 ? atol(argv[1]) : 8L << 20;
    long lines = argc > 2 ? atol(argv[2]) : 5000;
    for (int fd = 0; fd < 3; fd++) {
        int fl = fcntl(fd, F_GETFL);
        fprintf(stderr, "pipewrite: fd %d O_NONBLOCK: %s\n", fd, fl < 0 ? "?" : (fl & O_NONBLOCK) ? "yes" : "no");
    }

    static const size_t sizes[] = {1, 100, 4096, 65536, 300000, 7};
    static char chunk[300000];
    unsigned x = 2463534242u;
    for (size_t i = 0; i < sizeof chunk; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        chunk[i] = (char)('a' + x % 26);
    }
    for (long done = 0, k = 0; done < bytes; k++) {
        size_t n = sizes[k % (sizeof sizes / sizeof sizes[0])];
        if ((long)n > bytes - done) n = (size_t)(bytes - done);
        writeAll(chunk, n);
        done += (long)n;
    }

    char line[64];
    for (long i = 0; i < lines; i++) {
        int n = snprintf(line, sizeof line, "\nwrite line %ld", i);
        writeAll(line, (size_t)n);
    }
    for (long i = 0; i < lines; i++) printf("\nstdio line %ld", i);
    printf("\n");
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "pipewrite: stdout: write error: %s\n", strerror(errno));
        return 2;
    }
    fprintf(stderr, "pipewrite: %ld bytes through write(2) in %ld calls, %ld short\n", total, calls, shortWrites);
    return 0;
}
