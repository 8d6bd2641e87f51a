/* In-process hit counting in a threaded process (tests/integration/gdb-hot-threads.test.ts,
 * bench/reverse-threads.js): two workers take turns, ROUNDS rounds each, handing the
 * turn over with a semaphore each; in a round a worker calls hot() CALLS times without
 * a syscall, so each round is one long interval of one thread, and the rounds of the
 * two threads alternate in the recorded schedule. `calls` numbers every call of hot()
 * in the order they ran (only the worker whose turn it is runs the loop), so the n-th
 * hit of `break hot` is the call with n == calls - 1, and its thread is worker
 * 1 + (n / CALLS) % 2. begin() and finish() mark the work's two ends. Optional
 * arguments: rounds per worker, calls per round. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

#define WORKERS 2

static long ROUNDS = 5, CALLS = 120000;
long calls;
int last_id;
__thread int my_id;
static sem_t turn[WORKERS];

__attribute__((noinline)) void hot(int id, long n) {
  calls = n + 1;
  last_id = id;
}

__attribute__((noinline)) void begin(void) {
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void round_begin(int id, long r) {
  asm volatile("" ::"r"(id), "r"(r) : "memory");
}

__attribute__((noinline)) void finish(long n) {
  asm volatile("" ::"r"(n) : "memory");
}

static void *worker(void *arg) {
  my_id = (int)(long)arg;
  for (long r = 0; r < ROUNDS; r++) {
    sem_wait(&turn[my_id - 1]);
    round_begin(my_id, r);
    for (long k = 0; k < CALLS; k++) hot(my_id, calls);
    sem_post(&turn[my_id % WORKERS]);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) ROUNDS = atol(argv[1]);
  if (argc > 2) CALLS = atol(argv[2]);
  pthread_t t[WORKERS];
  for (int i = 0; i < WORKERS; i++) sem_init(&turn[i], 0, 0);
  begin();
  for (long i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
  sem_post(&turn[0]);
  for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
  finish(calls);
  printf("calls %ld last %d\n", calls, last_id);
  return 0;
}
