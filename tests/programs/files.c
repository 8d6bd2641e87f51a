/* files: the basic file syscalls on a temporary file made with mkstemp under
 * argv[1] (default /tmp): write, lseek, read, fstat, pread, pwrite, writev,
 * readv, ftruncate, close, unlink. Prints what it read back. The temp file's
 * name is random (mkstemp), so it is printed too: replay must reproduce it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static void die(const char *what) {
    printf("FAILED: %s: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/rewind-files-XXXXXX", dir);

    int fd = mkstemp(path);
    if (fd < 0) die("mkstemp");
    printf("tempfile: %s\n", strrchr(path, '/') + 1);

    const char msg[] = "The quick brown fox jumps over the lazy dog.\n";
    ssize_t n = write(fd, msg, strlen(msg));
    if (n < 0) die("write");
    printf("write: %zd bytes\n", n);

    off_t pos = lseek(fd, 0, SEEK_CUR);
    printf("lseek(0, SEEK_CUR): %lld\n", (long long)pos);
    pos = lseek(fd, 4, SEEK_SET);
    printf("lseek(4, SEEK_SET): %lld\n", (long long)pos);

    char buf[256];
    memset(buf, 0, sizeof buf);
    n = read(fd, buf, 15);
    if (n < 0) die("read");
    printf("read: %zd bytes: \"%.*s\"\n", n, (int)n, buf);

    struct stat st;
    if (fstat(fd, &st) < 0) die("fstat");
    printf("fstat: size=%lld regular=%d mode=%o\n", (long long)st.st_size,
           S_ISREG(st.st_mode) ? 1 : 0, (unsigned)(st.st_mode & 07777));

    memset(buf, 0, sizeof buf);
    n = pread(fd, buf, 9, 35);
    if (n < 0) die("pread");
    printf("pread(9 @ 35): %zd bytes: \"%.*s\"\n", n, (int)n, buf);
    printf("offset after pread: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));

    n = pwrite(fd, "QUICK", 5, 4);
    if (n < 0) die("pwrite");
    printf("pwrite: %zd bytes\n", n);

    /* writev three pieces at the end, then readv them back into two buffers */
    char a[] = "alpha-", b[] = "beta-", c[] = "gamma\n";
    struct iovec wv[3] = {{a, strlen(a)}, {b, strlen(b)}, {c, strlen(c)}};
    if (lseek(fd, 0, SEEK_END) < 0) die("lseek end");
    n = writev(fd, wv, 3);
    if (n < 0) die("writev");
    printf("writev: %zd bytes\n", n);

    char r1[8], r2[32];
    memset(r1, 0, sizeof r1);
    memset(r2, 0, sizeof r2);
    struct iovec rv[2] = {{r1, 7}, {r2, sizeof r2 - 1}};
    if (lseek(fd, (off_t)strlen(msg), SEEK_SET) < 0) die("lseek back");
    n = readv(fd, rv, 2);
    if (n < 0) die("readv");
    printf("readv: %zd bytes: \"%s\" + \"%s\"\n", n, r1, r2);

    /* whole file, as it is now */
    if (lseek(fd, 0, SEEK_SET) < 0) die("lseek start");
    memset(buf, 0, sizeof buf);
    n = read(fd, buf, sizeof buf - 1);
    if (n < 0) die("read all");
    printf("contents (%zd bytes): %s", n, buf);

    n = read(fd, buf, sizeof buf);
    printf("read at EOF: %zd\n", n);

    if (ftruncate(fd, 10) < 0) die("ftruncate");
    if (fstat(fd, &st) < 0) die("fstat 2");
    printf("after ftruncate: size=%lld\n", (long long)st.st_size);

    if (close(fd) < 0) die("close");
    if (unlink(path) < 0) die("unlink");
    errno = 0;
    int gone = access(path, F_OK) < 0 && errno == ENOENT;
    printf("unlink: %s\n", gone ? "ok" : "file still there");

    /* an error path: opening the unlinked file fails with ENOENT */
    fd = open(path, O_RDONLY);
    printf("open after unlink: %d errno=%d\n", fd, fd < 0 ? errno : 0);
    return 0;
}
