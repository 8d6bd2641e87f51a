/* stdin: reads all of standard input; prints the byte count, an FNV-1a
 * checksum and the first line. Replay gets no stdin at all: the recorded
 * read() results must stand in for it. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    static unsigned char buf[4096];
    char first[128];
    size_t first_len = 0;
    int first_done = 0;
    uint32_t h = 2166136261u;
    size_t total = 0;
    int reads = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0) {
            perror("read");
            return 1;
        }
        reads++;
        if (n == 0) break;
        for (ssize_t i = 0; i < n; i++) {
            h ^= buf[i];
            h *= 16777619u;
            if (!first_done) {
                if (buf[i] == '\n' || first_len == sizeof first - 1) first_done = 1;
                else first[first_len++] = (char)buf[i];
            }
        }
        total += (size_t)n;
    }
    first[first_len] = 0;
    printf("bytes: %zu\n", total);
    printf("checksum: %08x\n", h);
    printf("first line: %s\n", first);
    fprintf(stderr, "stdin: %d read calls\n", reads);
    return 0;
}
