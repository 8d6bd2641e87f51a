/* A forked child execs exec_child (beside this program), a program with symbols of
 * its own; the parent waits and prints its status. gdb debugs the child after its
 * exec (replay --pid): it must be given exec_child, not this program. */
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  (void)argc;
  char path[4096];
  snprintf(path, sizeof path, "%s/exec_child", dirname(strdup(argv[0])));
  printf("parent starts\n");
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    char *args[] = {path, NULL};
    execv(path, args);
    _exit(127);
  }
  int st;
  waitpid(p, &st, 0);
  printf("parent saw %d\n", WEXITSTATUS(st));
  return 0;
}
