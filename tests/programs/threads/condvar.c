/* A producer thread hands 2000 numbers to the main thread through an 8-slot queue
 * guarded by a mutex and two condition variables (futex waits and wakes). */
#include <pthread.h>
#include <stdio.h>

#define ITEMS 2000
#define SLOTS 8

static int queue[SLOTS], head, tail, count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t notEmpty = PTHREAD_COND_INITIALIZER, notFull = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg) {
  for (int i = 1; i <= ITEMS; i++) {
    pthread_mutex_lock(&lock);
    while (count == SLOTS) pthread_cond_wait(&notFull, &lock);
    queue[tail] = i;
    tail = (tail + 1) % SLOTS;
    count++;
    pthread_cond_signal(&notEmpty);
    pthread_mutex_unlock(&lock);
  }
  return arg;
}

int main(void) {
  pthread_t p;
  pthread_create(&p, NULL, producer, NULL);
  long sum = 0;
  for (int i = 0; i < ITEMS; i++) {
    pthread_mutex_lock(&lock);
    while (count == 0) pthread_cond_wait(&notEmpty, &lock);
    sum += queue[head];
    head = (head + 1) % SLOTS;
    count--;
    pthread_cond_signal(&notFull);
    pthread_mutex_unlock(&lock);
  }
  pthread_join(p, NULL);
  printf("sum %ld\n", sum);
  return 0;
}
