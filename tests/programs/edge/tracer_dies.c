/* A traced child whose tracer dies: the program forks a tracer T and a tracee C; T
 * attaches to C and exits; C is released and ends normally (issue 14: the recorder
 * hung). Everyone reports through exit statuses. */
#include "edge.h"
#include <sys/ptrace.h>

int main(void) {
  int go[2];
  CHECK(pipe(go));
  pid_t tracee = fork();
  CHECK(tracee);
  if (tracee == 0) {
    char c;
    close(go[1]);
    if (read(go[0], &c, 1) != 1) _exit(2);  /* the tracer has attached (or given up) */
    _exit(c == 'a' ? 30 : 31);
  }
  pid_t tracer = fork();
  CHECK(tracer);
  if (tracer == 0) {
    int attached = ptrace(PTRACE_ATTACH, tracee, 0, 0) == 0;
    if (attached) waitpid(tracee, NULL, 0);
    write(go[1], attached ? "a" : "n", 1);
    _exit(attached ? 20 : 21);  /* dies while tracing */
  }
  close(go[0]);
  int st1, st2;
  CHECK(waitpid(tracer, &st1, 0));
  CHECK(waitpid(tracee, &st2, 0));
  int t = WIFEXITED(st1) ? WEXITSTATUS(st1) : -1, c = WIFEXITED(st2) ? WEXITSTATUS(st2) : -WTERMSIG(st2);
  printf("tracer ended: %d; tracee ended normally after it: %d\n", t == 20 || t == 21, c == 30 || c == 31);
  NEED(WIFEXITED(st2), "a tracee outlives its tracer");
  PASS();
  return 0;
}
