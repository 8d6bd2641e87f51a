/* fork: the child writes into a pipe and exits with status 9; the parent reads the
 * pipe and waits for it (the child runs live, the parent sees it as recorded). */
#include "edge.h"

int main(void) {
  int fds[2];
  CHECK(pipe(fds));
  pid_t c = fork();
  CHECK(c);
  if (c == 0) {
    close(fds[0]);
    const char msg[] = "from the child";
    write(fds[1], msg, sizeof msg);
    _exit(9);
  }
  close(fds[1]);
  char buf[32] = {0};
  ssize_t n = read(fds[0], buf, sizeof buf);
  int st;
  CHECK(waitpid(c, &st, 0));
  printf("pipe: %zd bytes \"%s\", child status %d\n", n, buf, WEXITSTATUS(st));
  NEED(WEXITSTATUS(st) == 9, "fork and wait");
  PASS();
  return 0;
}
