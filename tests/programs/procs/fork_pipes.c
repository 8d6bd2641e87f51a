/* Three forked children each write lines into a pipe of their own; the parent reads
 * them with poll as they come, prints them in a fixed order, and reaps the children
 * (their exit statuses are 10, 11, 12). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  int fds[3][2];
  pid_t kids[3];
  for (int i = 0; i < 3; i++) {
    if (pipe(fds[i]) != 0) return 1;
    kids[i] = fork();
    if (kids[i] < 0) return 1;
    if (kids[i] == 0) {
      close(fds[i][0]);
      for (int k = 0; k < 3; k++) {
        char line[64];
        int n = snprintf(line, sizeof line, "child %d line %d\n", i, k);
        if (write(fds[i][1], line, (size_t)n) != n) _exit(2);
      }
      printf("child %d done\n", i);
      fflush(stdout);
      _exit(10 + i);
    }
    close(fds[i][1]);
  }
  char got[3][512];
  size_t len[3] = {0, 0, 0};
  int open = 3;
  struct pollfd p[3];
  for (int i = 0; i < 3; i++) p[i] = (struct pollfd){fds[i][0], POLLIN, 0};
  while (open > 0) {
    if (poll(p, 3, -1) < 0) return 1;
    for (int i = 0; i < 3; i++) {
      if (!p[i].revents) continue;
      ssize_t n = read(p[i].fd, got[i] + len[i], sizeof got[i] - 1 - len[i]);
      if (n <= 0) {
        close(p[i].fd);
        p[i].fd = -1;
        open--;
      } else {
        len[i] += (size_t)n;
      }
    }
  }
  for (int i = 0; i < 3; i++) {
    got[i][len[i]] = 0;
    printf("from child %d:\n%s", i, got[i]);
  }
  for (int i = 0; i < 3; i++) {
    int st;
    if (waitpid(kids[i], &st, 0) != kids[i]) return 1;
    printf("child %d exited %d\n", i, WEXITSTATUS(st));
  }
  return 0;
}
