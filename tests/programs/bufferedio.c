/* bufferedio: copies the file argv[1] to /dev/null in 64-byte pieces, with an
 * fstat and an lseek(SEEK_CUR) before each read: a long stretch of calls the
 * syscall buffer makes in-process (docs/syscallbuf.md). Prints how many bytes it
 * copied and their checksum. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bufferedio FILE\n");
        return 2;
    }
    int in = open(argv[1], O_RDONLY);
    int out = open("/dev/null", O_WRONLY);
    if (in < 0 || out < 0) {
        perror("open");
        return 1;
    }
    unsigned long total = 0, sum = 0;
    for (;;) {
        struct stat st;
        if (fstat(in, &st) != 0 || lseek(in, 0, SEEK_CUR) != (off_t)total) return 1;
        char buf[64];
        ssize_t n = read(in, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)buf[i];
        if (write(out, buf, (size_t)n) != n) return 1;
        total += (unsigned long)n;
    }
    close(in);
    close(out);
    printf("bufferedio: %lu bytes, checksum %lx\n", total, sum);
    return 0;
}
