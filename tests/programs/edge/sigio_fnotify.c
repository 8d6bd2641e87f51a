/* Directory-change notification: fcntl(F_NOTIFY) delivers SIGIO when a file is
 * created in the directory (issue 14: never delivered while recording). */
#include "edge.h"

static volatile sig_atomic_t got;
static void on_io(int sig) { got = sig; }

int main(void) {
  const char *dir = scratch("notify.d");
  mkdir(dir, 0700);
  signal(SIGIO, on_io);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(dfd);
  CHECK(fcntl(dfd, F_NOTIFY, DN_CREATE));
  char file[600];
  snprintf(file, sizeof file, "%s/new", dir);
  int fd = open(file, O_CREAT | O_WRONLY, 0600);
  CHECK(fd);
  close(fd);
  for (int i = 0; i < 200 && !got; i++) usleep(10000);
  printf("got signal %d\n", (int)got);
  NEED(got == SIGIO, "F_NOTIFY delivers SIGIO");
  unlink(file);
  rmdir(dir);
  PASS();
  return 0;
}
