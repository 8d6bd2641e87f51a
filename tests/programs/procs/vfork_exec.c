/* vfork then execve of /bin/echo (the child runs in the parent's memory until the
 * exec); the parent waits for it and prints its status. With an argument, the
 * child execs this program again, which prints what it was given. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc > 1) {
    printf("re-executed with %s\n", argv[1]);
    return 3;
  }
  printf("parent before vfork\n");
  fflush(stdout);
  pid_t c = vfork();
  if (c == 0) {
    char *args[] = {"/bin/echo", "echo from the vfork child", NULL};
    execv(args[0], args);
    _exit(127);
  }
  int st;
  waitpid(c, &st, 0);
  printf("echo exited %d\n", WEXITSTATUS(st));
  fflush(stdout);
  c = vfork();
  if (c == 0) {
    char *args[] = {argv[0], "again", NULL};
    execv("/proc/self/exe", args);
    _exit(127);
  }
  waitpid(c, &st, 0);
  printf("self exited %d\n", WEXITSTATUS(st));
  return 0;
}
