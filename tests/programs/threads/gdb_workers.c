// gdb on a threaded replay (tests/integration/gdb-threads.test.ts): two workers,
// each with its own thread-local value, meet main at a barrier; the first then
// runs worker_mark (where the tests stop), the second waits on a pipe the first
// writes, so the first stop is always in worker 1 with three threads alive.
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

__thread int tls_value;
long shared_total;
static int go[2];
static pthread_barrier_t barrier;

__attribute__((noinline)) void worker_mark(int id, long sum) {
  shared_total += sum;  // the watchpoint's target
  asm volatile("" ::: "memory");
}

static void *worker(void *arg) {
  int id = (int)(long)arg;
  tls_value = 100 + id;
  pthread_barrier_wait(&barrier);
  char c;
  if (id == 2 && read(go[0], &c, 1) != 1) return NULL;
  long sum = 0;
  for (int i = 0; i < 1000; i++) sum += (long)i * id;
  worker_mark(id, sum);
  if (id == 1 && write(go[1], "x", 1) != 1) return NULL;
  return NULL;
}

int main(void) {
  pthread_t t[2];
  tls_value = 7;
  if (pipe(go) != 0) return 1;
  pthread_barrier_init(&barrier, NULL, 3);
  for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
  pthread_barrier_wait(&barrier);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  printf("total %ld tls %d\n", shared_total, tls_value);
  return 0;
}
