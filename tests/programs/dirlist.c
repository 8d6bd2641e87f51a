/* dirlist: opendir/readdir of argv[1] (default "."), names sorted, then an
 * lstat of each entry (type, permissions, size, link count). getdents64
 * output and stat structs must be restored exactly in replay. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char type_char(mode_t m) {
    if (S_ISDIR(m)) return 'd';
    if (S_ISLNK(m)) return 'l';
    if (S_ISREG(m)) return '-';
    if (S_ISFIFO(m)) return 'p';
    if (S_ISCHR(m)) return 'c';
    if (S_ISBLK(m)) return 'b';
    if (S_ISSOCK(m)) return 's';
    return '?';
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : ".";
    DIR *d = opendir(path);
    if (!d) {
        printf("opendir %s failed: %s\n", path, strerror(errno));
        return 1;
    }
    size_t cap = 16, count = 0;
    char **names = malloc(cap * sizeof *names);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (count == cap) {
            cap *= 2;
            names = realloc(names, cap * sizeof *names);
        }
        names[count++] = strdup(e->d_name);
    }
    qsort(names, count, sizeof *names, by_name);
    printf("%zu entries in %s\n", count, path);

    int dfd = dirfd(d);
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
            printf("%s: stat failed: %s\n", names[i], strerror(errno));
            continue;
        }
        printf("%c%04o %8lld %2lu %s\n", type_char(st.st_mode),
               (unsigned)(st.st_mode & 07777), (long long)st.st_size,
               (unsigned long)st.st_nlink, names[i]);
        free(names[i]);
    }
    free(names);
    closedir(d);
    return 0;
}
