/* mmapfile: memory mappings. Maps the file argv[1] read-only and prints an
 * FNV-1a checksum of its bytes (and of its first pages); then an anonymous
 * mmap that is grown with mremap and unmapped; then a large malloc (served by
 * mmap inside glibc). The mapping addresses are printed: they differ between
 * native runs (ASLR) and replay must reproduce the recorded ones. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
        fprintf(stderr, "usage: mmapfile FILE\n");
        return 2;
    }
    long page = sysconf(_SC_PAGESIZE);
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        printf("open failed: %s\n", strerror(errno));
        return 1;
    }
    struct stat st;
    fstat(fd, &st);
    size_t size = (size_t)st.st_size;
    unsigned char *file = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED) {
        printf("mmap file failed: %s\n", strerror(errno));
        return 1;
    }
    close(fd);
    size_t pages = (size + (size_t)page - 1) / (size_t)page;
    printf("file: %zu bytes, %zu pages, mapped at %p\n", size, pages, (void *)file);
    for (size_t i = 0; i < pages && i < 3; i++) {
        size_t len = size - i * (size_t)page < (size_t)page ? size - i * (size_t)page : (size_t)page;
        printf("page %zu checksum %08x\n", i, fnv1a(2166136261u, file + i * (size_t)page, len));
    }
    printf("file checksum %08x\n", fnv1a(2166136261u, file, size));
    munmap(file, size);

    /* anonymous mapping, filled, grown with mremap, checked, unmapped */
    size_t small = 4 * (size_t)page, big = 64 * (size_t)page;
    unsigned char *anon = mmap(NULL, small, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (anon == MAP_FAILED) return 1;
    for (size_t i = 0; i < small; i++) anon[i] = (unsigned char)(i * 7 + 1);
    printf("anon: %zu bytes at %p\n", small, (void *)anon);
    unsigned char *grown = mremap(anon, small, big, MREMAP_MAYMOVE);
    if (grown == MAP_FAILED) {
        printf("mremap failed: %s\n", strerror(errno));
        return 1;
    }
    int kept = 1, zero = 1;
    for (size_t i = 0; i < small; i++)
        if (grown[i] != (unsigned char)(i * 7 + 1)) kept = 0;
    for (size_t i = small; i < big; i++)
        if (grown[i] != 0) zero = 0;
    for (size_t i = small; i < big; i++) grown[i] = (unsigned char)(i ^ (i >> 8));
    printf("mremap: %zu bytes at %p, old contents kept: %s, new part zeroed: %s\n", big,
           (void *)grown, kept ? "yes" : "no", zero ? "yes" : "no");
    printf("anon checksum %08x\n", fnv1a(2166136261u, grown, big));
    printf("munmap: %d\n", munmap(grown, big));

    /* a malloc above the mmap threshold */
    size_t blen = 16u << 20;
    unsigned char *blk = malloc(blen);
    if (!blk) return 1;
    for (size_t i = 0; i < blen; i += 1024) blk[i] = (unsigned char)(i >> 10);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < blen; i += 1024) h = fnv1a(h, blk + i, 1);
    printf("malloc: %zu bytes at %p, checksum %08x\n", blen, (void *)blk, h);
    free(blk);
    return 0;
}
