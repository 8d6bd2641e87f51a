/* /proc/self/comm follows PR_SET_NAME, and /proc/self/stat's state and name agree. */
#include "edge.h"
#include <sys/prctl.h>

int main(void) {
  CHECK(prctl(PR_SET_NAME, "renamed-edge"));
  char comm[64] = {0};
  int fd = open("/proc/self/comm", O_RDONLY);
  CHECK(fd);
  CHECK(read(fd, comm, sizeof comm - 1));
  printf("comm: %s", comm);
  char stat[512] = {0};
  fd = open("/proc/self/stat", O_RDONLY);
  CHECK(fd);
  CHECK(read(fd, stat, sizeof stat - 1));
  char *open_paren = strchr(stat, '('), *close_paren = strrchr(stat, ')');
  printf("stat name: %.*s, state %c\n", (int)(close_paren - open_paren - 1), open_paren + 1, close_paren[2]);
  NEED(strcmp(comm, "renamed-edge\n") == 0, "PR_SET_NAME shows in /proc/self/comm");
  PASS();
  return 0;
}
