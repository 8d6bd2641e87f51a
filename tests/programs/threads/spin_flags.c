/* Two threads spinning on flags each other sets: A spins until B has seen it start,
 * B spins until A has started. Whichever runs first must be preempted for the other
 * to run, so the recording ends only by preemption and its trace has switch points. */
#include <pthread.h>
#include <stdio.h>
static volatile int started, flag;
static void* a(void* x) { (void)x; started = 1; while (!flag) {} return 0; }
static void* b(void* x) { (void)x; while (!started) {} flag = 1; return 0; }
int main(void) {
  pthread_t ta, tb;
  pthread_create(&ta, 0, a, 0);
  pthread_create(&tb, 0, b, 0);
  pthread_join(ta, 0);
  pthread_join(tb, 0);
  printf("flag seen\n");
  return 0;
}
