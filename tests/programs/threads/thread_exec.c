/* A thread other than the first execs a program that prints: the kernel ends the
 * other threads, and the execing thread takes over the process's pid.
 *   thread_exec [join|read|spin|exit] [busy] [PROGRAM]
 * join (the default): the main thread waits in pthread_join (a futex wait) when
 * the worker execs; read: it waits in a read of a pipe nobody writes; spin: it
 * computes in a loop; exit: it has left with pthread_exit (the process lives on
 * in the worker). busy: a second worker computes in a loop meanwhile, killed by
 * the exec too. The worker execs PROGRAM (an absolute path) if given, else echo. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile unsigned long spins;

static void *spin(void *arg) {
  for (;;) spins++;
  return arg;
}

static char *program;

static void *work(void *arg) {
  char *argv[] = {program ? program : "echo", "exec from a thread", NULL};
  execv(program ? program : "/bin/echo", argv);
  perror("execv");
  return arg;
}

int main(int argc, char **argv) {
  const char *mode = "join";
  int busy = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "busy") == 0) busy = 1;
    else if (argv[i][0] != '/') mode = argv[i];
    else if (argv[i][0] == '/') program = argv[i];
  }
  pthread_t t, b;
  int fds[2];
  char c;
  if (pipe(fds) != 0) return 2;
  printf("main starts a worker that execs%s\n", busy ? ", and a busy one" : "");
  fflush(stdout);
  if (busy) pthread_create(&b, NULL, spin, NULL);
  pthread_create(&t, NULL, work, NULL);
  if (strcmp(mode, "read") == 0) read(fds[0], &c, 1);
  else if (strcmp(mode, "spin") == 0) spin(NULL);
  else if (strcmp(mode, "exit") == 0) pthread_exit(NULL);
  else pthread_join(t, NULL);
  return 1;
}
