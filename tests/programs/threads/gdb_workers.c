// gdb on a threaded replay (tests/integration/gdb-threads.test.ts): two workers,
// each with its own thread-local value. Worker 1 stops in worker_mark (where the
// tests break) only once main sleeps in pthread_join and worker 2 in its read of a
// pipe that worker 1 writes afterwards: every thread stands at the same place
// natively and in the replay, whatever the scheduler did. Both workers add to
// shared_total there, worker 1 first (the watchpoint's target).
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "thread_state.h"

__thread int tls_value;
long shared_total;
static int go[2];
static pthread_barrier_t barrier;
static volatile pid_t tids[3];

__attribute__((noinline)) void worker_mark(int id, long sum) {
  shared_total += sum;
  asm volatile("" ::: "memory");
}

static void *worker(void *arg) {
  int id = (int)(long)arg;
  tids[id] = (pid_t)syscall(SYS_gettid);
  tls_value = 100 + id;
  pthread_barrier_wait(&barrier);
  char c;
  if (id == 2 && read(go[0], &c, 1) != 1) return NULL;
  if (id == 1)
    while (state_of(tids[0]) != 'S' || state_of(tids[2]) != 'S') usleep(1000);
  long sum = 0;
  for (int i = 0; i < 1000; i++) sum += (long)i * id;
  worker_mark(id, sum);
  if (id == 1 && write(go[1], "x", 1) != 1) return NULL;
  return NULL;
}

int main(void) {
  pthread_t t[2];
  tids[0] = getpid();
  tls_value = 7;
  if (pipe(go) != 0) return 1;
  pthread_barrier_init(&barrier, NULL, 2);
  for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  printf("total %ld tls %d\n", shared_total, tls_value);
  return 0;
}
