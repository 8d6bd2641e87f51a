/* Reverse execution across threads (tests/integration/gdb-threads-reverse.test.ts):
 * three workers take turns adding to one counter under a mutex, ROUNDS times each,
 * yielding between rounds, so that the writes of different threads alternate in the
 * recorded schedule and every round starts a new interval after a syscall. Each
 * write records which worker made it (`last_id`) and is seen by gdb as a watchpoint
 * hit; round_done() is where a breakpoint stops each worker once per round. */
#include <pthread.h>
#include <stdio.h>

#define WORKERS 3
#define ROUNDS 4

long counter;
int last_id;
__thread int my_id, my_round;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) void round_done(int id, int r) {
  asm volatile("" ::"r"(id), "r"(r) : "memory");
}

/* sched_yield by its own `syscall` instruction: after_yield is the first state of
 * the thread's interval once the call has returned (a breakpoint there stops at
 * each return, in the recorded order of the calls' events). */
__attribute__((noinline)) void yield_now(void) {
  asm volatile("mov $24, %%eax\n\tsyscall\n\t.globl after_yield\nafter_yield:\n\tnop" ::: "rax", "rcx", "r11", "memory");
}

static void *worker(void *arg) {
  my_id = (int)(long)arg;
  for (int r = 0; r < ROUNDS; r++) {
    pthread_mutex_lock(&lock);
    counter += my_id * 100 + r;
    last_id = my_id;
    pthread_mutex_unlock(&lock);
    round_done(my_id, r);
    my_round = r;
    yield_now();
  }
  return NULL;
}

int main(void) {
  pthread_t t[WORKERS];
  for (long i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
  for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
  printf("counter %ld\n", counter);
  return 0;
}
