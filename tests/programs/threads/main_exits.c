// The first thread ends with pthread_exit while two workers go on (issue 9, item 4 of
// the gdb threads work; tests/integration/gdb-thread-events.test.ts): the process lives
// on without its leader, and ends when its last thread returns. Worker 1 reaches
// worker_mark(1) only once main is a zombie and worker 2 is asleep in its read of a
// pipe, so every thread stands at the same place natively and in the replay; worker 2
// reaches worker_mark(2) after it has joined worker 1.
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "thread_state.h"

static int go[2];
static pthread_t workers[2];
volatile pid_t tids[3];


__attribute__((noinline)) void worker_mark(int id) {
  (void)id;
  asm volatile("" ::: "memory");
}

static void *first(void *arg) {
  tids[1] = (pid_t)syscall(SYS_gettid);
  while (!tids[2] || state_of(tids[0]) != 'Z' || state_of(tids[2]) != 'S') usleep(1000);
  worker_mark(1);
  if (write(go[1], "x", 1) != 1) return NULL;
  return arg;
}

static void *second(void *arg) {
  tids[2] = (pid_t)syscall(SYS_gettid);
  char c;
  if (read(go[0], &c, 1) != 1) return NULL;
  pthread_join(workers[0], NULL);
  worker_mark(2);
  printf("second worker done\n");
  return arg;
}

int main(void) {
  tids[0] = getpid();
  if (pipe(go) != 0) return 1;
  pthread_create(&workers[0], NULL, first, NULL);
  pthread_create(&workers[1], NULL, second, NULL);
  pthread_exit(NULL);
}
