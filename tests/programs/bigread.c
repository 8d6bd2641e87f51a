/* bigread: reads the file argv[1] (several MB) twice: in one read() call of
 * the whole size, then in 64 KiB reads, and prints an FNV-1a checksum of each
 * pass. Large syscall outputs must be recorded and restored exactly. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t fnv1a(uint32_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bigread FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        printf("open failed: %s\n", strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        printf("fstat failed: %s\n", strerror(errno));
        return 1;
    }
    size_t size = (size_t)st.st_size;
    printf("size: %zu\n", size);

    unsigned char *buf = malloc(size + 1);
    if (!buf) return 1;

    /* pass 1: one read() of the whole file */
    ssize_t n = read(fd, buf, size + 1);
    printf("single read: %zd bytes checksum %08x\n", n,
           n > 0 ? fnv1a(2166136261u, buf, (size_t)n) : 0);

    /* pass 2: 64 KiB at a time */
    if (lseek(fd, 0, SEEK_SET) < 0) return 1;
    enum { CHUNK = 64 * 1024 };
    static unsigned char chunk[CHUNK];
    uint32_t h = 2166136261u;
    size_t total = 0;
    int calls = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, CHUNK);
        calls++;
        if (r < 0) {
            printf("read failed: %s\n", strerror(errno));
            return 1;
        }
        if (r == 0) break;
        h = fnv1a(h, chunk, (size_t)r);
        total += (size_t)r;
    }
    printf("chunked read: %zu bytes in %d calls checksum %08x\n", total, calls, h);
    printf("match: %s\n", (n > 0 && (size_t)n == total &&
                           fnv1a(2166136261u, buf, total) == h) ? "yes" : "no");
    free(buf);
    close(fd);
    return 0;
}
