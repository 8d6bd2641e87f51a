/* exit() from the main thread while two workers are blocked (a futex wait, a read
 * of an empty pipe) and a third has a signal handler on its own sigaltstack: the
 * process ends with every thread (exit_group with live threads). Also tgkill. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static int fds[2];
static volatile sig_atomic_t onAltStack;
static pthread_barrier_t ready, handled;
static char altstack[64 * 1024];

static void handler(int sig) {
  int here;
  onAltStack = (char *)&here >= altstack && (char *)&here < altstack + sizeof altstack ? sig : -1;
}

static void *waiter(void *arg) {
  pthread_mutex_lock(&lock);
  pthread_barrier_wait(&ready);
  pthread_cond_wait(&never, &lock);
  return arg;
}

static void *reader(void *arg) {
  char c;
  pthread_barrier_wait(&ready);
  (void)!read(fds[0], &c, 1);
  return arg;
}

static void *signalled(void *arg) {
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  *(pid_t *)arg = (pid_t)syscall(SYS_gettid);
  pthread_barrier_wait(&ready);
  while (!onAltStack) pause();
  printf("handler ran %s\n", onAltStack == SIGUSR1 ? "on the thread's sigaltstack" : "elsewhere");
  fflush(stdout);
  pthread_barrier_wait(&handled);
  for (;;) pause();
}

int main(void) {
  pthread_t t[3];
  pid_t target = 0;
  if (pipe(fds) != 0) return 2;
  pthread_barrier_init(&ready, NULL, 4);
  pthread_barrier_init(&handled, NULL, 2);
  pthread_create(&t[0], NULL, waiter, NULL);
  pthread_create(&t[1], NULL, reader, NULL);
  pthread_create(&t[2], NULL, signalled, &target);
  pthread_barrier_wait(&ready);
  syscall(SYS_tgkill, getpid(), target, SIGUSR1);
  pthread_barrier_wait(&handled);
  printf("main exits with three threads alive\n");
  fflush(stdout);
  exit(7);
}
