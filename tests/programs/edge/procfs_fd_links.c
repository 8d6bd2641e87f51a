/* /proc/self/fd links: a pipe, a socket, a memfd; opening the socket's link fails with
 * ENXIO, the memfd's opens. */
#include "edge.h"
#include <sys/socket.h>

static void show(const char *what, int fd) {
  char link[64], target[256] = {0};
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  CHECK(readlink(link, target, sizeof target - 1));
  char *bracket = strchr(target, '[');
  if (bracket) *bracket = 0;  /* inode numbers differ per run */
  int again = open(link, O_RDONLY | O_NONBLOCK);
  printf("%s: %s reopen %s\n", what, target, again < 0 ? errname(errno) : "ok");
}

int main(void) {
  int p[2], s[2];
  CHECK(pipe(p));
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
  int m = memfd_create("procfs-edge", 0);
  CHECK(m);
  show("pipe", p[0]);
  show("socket", s[0]);
  show("memfd", m);
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", s[0]);
  errno = 0;
  NEED(open(link, O_RDONLY) < 0 && errno == ENXIO, "ENXIO opening a socket's /proc link");
  PASS();
  return 0;
}
