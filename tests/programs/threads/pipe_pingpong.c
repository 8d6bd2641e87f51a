/* Two threads pass a counter back and forth through two pipes, 1000 times: each
 * waits in a read of an empty pipe while the other runs (the recording must let
 * the other thread run meanwhile). */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define ROUNDS 1000

static int ping[2], pong[2];

static void *echo(void *arg) {
  int v;
  for (int i = 0; i < ROUNDS; i++) {
    if (read(ping[0], &v, sizeof v) != sizeof v) return NULL;
    v++;
    if (write(pong[1], &v, sizeof v) != sizeof v) return NULL;
  }
  return arg;
}

int main(void) {
  if (pipe(ping) != 0 || pipe(pong) != 0) return 2;
  pthread_t t;
  pthread_create(&t, NULL, echo, NULL);
  int v = 0;
  for (int i = 0; i < ROUNDS; i++) {
    v++;
    if (write(ping[1], &v, sizeof v) != sizeof v) return 3;
    if (read(pong[0], &v, sizeof v) != sizeof v) return 4;
  }
  pthread_join(t, NULL);
  printf("after %d rounds: %d\n", ROUNDS, v);
  return 0;
}
