/* A worker sends its process SIGUSR1 fifty times while the main thread sleeps in a
 * loop: the kernel wakes the sleeping main thread (its clock_nanosleep returns to be
 * restarted, restart_syscall) and delivers the signal to one of the two threads, which
 * runs the handler. The worker sends the next signal only once the last one was
 * handled: a process-directed signal sent while the same one is still pending is
 * lost, and on a loaded machine main (the thread the kernel prefers) could sleep
 * through many sends, so that fewer than ten arrived and main waited forever. */
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
    sig_atomic_t before = got;
    kill(getpid(), SIGUSR1);
    usleep(100);
    while (got == before) usleep(100);
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
