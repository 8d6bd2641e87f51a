/* A worker sends its process SIGUSR1 fifty times while the main thread sleeps in a
 * loop: the kernel wakes the sleeping main thread (its clock_nanosleep returns to be
 * restarted, restart_syscall) but delivers the signal to the worker, which runs the
 * handler. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void handler(int sig) {
  (void)sig;
  got++;
}

static void *work(void *arg) {
  for (int i = 0; i < 50; i++) {
    kill(getpid(), SIGUSR1);
    usleep(100);
  }
  return arg;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigaction(SIGUSR1, &sa, NULL);
  pthread_t t;
  pthread_create(&t, NULL, work, NULL);
  while (got < 10) usleep(50);
  pthread_join(t, NULL);
  printf("got at least 10 signals\n");
  return 0;
}
