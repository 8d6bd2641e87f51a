/* gdb's own code in a threaded replay (tests/integration/gdb-threads-call.test.ts):
 * `call` and `print f(x)` in one thread while the others stay where they are, a
 * function that reads the thread-local of the thread it runs in, `jump`, and a call
 * that blocks on a lock another thread holds (main holds `lock` from before the
 * workers start until they have ended), which only the user's ^C ends.
 * Worker 1 stops at worker_mark only once main sleeps in pthread_join and worker 2
 * in its read of a pipe that worker 1 writes afterwards (as gdb_workers.c): every
 * thread stands at the same place in every run; worker 1 then ends only after
 * worker 2's mark (`back`). The test asserts worker()'s source lines: keep them. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "thread_state.h"

__thread int my_id;
int calls;
int skipped;
static int go[2], back[2];
static pthread_barrier_t barrier;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile pid_t tids[3];

/* gdb calls these; none is called by the program */
int add(int a, int b) {
  calls++;
  return a + b;
}

int scaled_id(int k) {
  return my_id * k;
}

/* Leaves `mark` (a file) to say it runs, then waits for `lock`, which main holds. */
int take_lock(const char *mark) {
  int fd = open(mark, O_CREAT | O_WRONLY, 0644);
  if (fd >= 0) close(fd);
  pthread_mutex_lock(&lock);
  pthread_mutex_unlock(&lock);
  return 1;
}

__attribute__((noinline)) void worker_mark(int id) {
  asm volatile("" ::"r"(id) : "memory");
}

__attribute__((noinline)) void after_skip(int id) {
  asm volatile("" ::"r"(id) : "memory");
}

static void *worker(void *arg) {
  int id = (int)(long)arg;
  tids[id] = (pid_t)syscall(SYS_gettid);
  my_id = 100 + id;
  pthread_barrier_wait(&barrier);
  char c;
  if (id == 2 && read(go[0], &c, 1) != 1) return NULL;
  if (id == 1)
    while (state_of(tids[0]) != 'S' || state_of(tids[2]) != 'S') usleep(1000);
  worker_mark(id);
  skipped = id; /* line 63: `jump 64` skips it */
  after_skip(id); /* line 64 */
  if (id == 1 && (write(go[1], "x", 1) != 1 || read(back[0], &c, 1) != 1)) return NULL;
  if (id == 2) (void)!write(back[1], "y", 1); return NULL;
}

int main(void) {
  pthread_t t[2];
  tids[0] = getpid();
  my_id = 7;
  if (pipe(go) != 0 || pipe(back) != 0) return 1;
  pthread_barrier_init(&barrier, NULL, 2);
  pthread_mutex_lock(&lock);
  for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  pthread_mutex_unlock(&lock);
  printf("calls %d skipped %d\n", calls, skipped);
  return 0;
}

/* gdb calls it in main, which stands at the entry of its futex wait in pthread_join:
 * with these arguments that futex call, entered again, would wait on `word` for ever
 * (FUTEX_WAIT while it holds 0). Defined last: the lines above are the test's. */
int word;

long word_sum(int *p, long op, long val) {
  return *p + op + val + 1;
}
