// gdb's thread numbers and thread exits on a replay (tests/integration/gdb-thread-events.test.ts):
// a thread that is made and ends before gdb stops anywhere, then a reader blocked in
// read() on a pipe and a waiter blocked in pthread_cond_wait, which end one after the
// other. mark(n) is where the test stops: at mark(1) both workers are asleep in the
// kernel (main waits for it in /proc), so every thread stands at the same place
// natively and in the replay; tids[] holds the kernel's tids in creation order.
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "thread_state.h"

static int go[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int ready;
volatile pid_t tids[4];


__attribute__((noinline)) void mark(int n) {
  (void)n;
  asm volatile("" ::: "memory");
}

static void *short_lived(void *arg) {
  tids[1] = (pid_t)syscall(SYS_gettid);
  return arg;
}

static void *reader(void *arg) {
  tids[2] = (pid_t)syscall(SYS_gettid);
  char c;
  if (read(go[0], &c, 1) != 1) return NULL;
  return arg;
}

static void *waiter(void *arg) {
  tids[3] = (pid_t)syscall(SYS_gettid);
  pthread_mutex_lock(&lock);
  while (!ready) pthread_cond_wait(&cond, &lock);
  pthread_mutex_unlock(&lock);
  return arg;
}

int main(void) {
  pthread_t t[3];
  tids[0] = getpid();
  if (pipe(go) != 0) return 1;
  pthread_create(&t[0], NULL, short_lived, NULL);
  pthread_join(t[0], NULL);
  pthread_create(&t[1], NULL, reader, NULL);
  pthread_create(&t[2], NULL, waiter, NULL);
  while (!tids[2] || !tids[3] || state_of(tids[2]) != 'S' || state_of(tids[3]) != 'S') usleep(1000);
  mark(1);
  if (write(go[1], "x", 1) != 1) return 1;
  pthread_join(t[1], NULL);
  mark(2);
  pthread_mutex_lock(&lock);
  ready = 1;
  pthread_cond_signal(&cond);
  pthread_mutex_unlock(&lock);
  pthread_join(t[2], NULL);
  mark(3);
  printf("all joined\n");
  return 0;
}
