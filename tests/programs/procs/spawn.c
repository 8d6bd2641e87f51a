/* posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK) on a stack of its own) of a shell
 * that prints and exits 4; the parent waits and prints the status. */
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(void) {
  pid_t c;
  char *args[] = {"sh", "-c", "echo spawned shell; exit 4", NULL};
  int e = posix_spawn(&c, "/bin/sh", NULL, NULL, args, environ);
  if (e != 0) return 1;
  int st;
  if (waitpid(c, &st, 0) != c) return 1;
  printf("spawned shell exited %d\n", WEXITSTATUS(st));
  return 0;
}
