/* buggy.c: a small program with an intermittent bug, for trying out rewind.
 *
 * It takes a random number of "sensor readings" (the count depends on the
 * time and the pid) and keeps the most recent ones in a ring buffer. The ring
 * buffer's wrap-around test is off by one, so when there are 9 or more
 * readings, one of them is written just past the end of the array, over the
 * pointer that follows it, and the program crashes later, far from the bug,
 * when it prints the sensor's name. Most runs are fine.
 *
 *   cc -g -O0 -o buggy examples/buggy.c
 *   for i in 1 2 3 4 5; do ./buggy; done      # fails now and then
 *   rewind record -- ./buggy                   # until a recording crashes
 *   rewind replay                              # then, in gdb:
 *     (gdb) continue                           # runs to the SIGSEGV
 *     (gdb) watch -l sensor.name
 *     (gdb) reverse-continue                   # stops at the bad store
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define HISTORY 8

/* The name pointer sits right after the history array in memory. */
static struct {
    int history[HISTORY]; /* the last HISTORY readings, a ring buffer */
    const char *name;     /* what is being measured */
} sensor = {.name = "greenhouse thermometer"};

static int next_slot;   /* where the next reading goes */
static int stored;      /* how many slots hold a reading */

static void add_reading(int value) {
    sensor.history[next_slot] = value;
    next_slot++;
    /* BUG: should be `>= HISTORY`; slot 8 is one past the end of history[]. */
    if (next_slot > HISTORY)
        next_slot = 0;
    if (stored < HISTORY)
        stored++;
}

static int read_sensor(void) {
    return 15 + rand() % 20; /* degrees Celsius */
}

int main(void) {
    srand((unsigned)(time(NULL) ^ getpid()));
    /* a line at a time even into a pipe: each reading is then its own write in the
       recording (rewind ui links it to the line that printed it), none lost at the crash */
    setvbuf(stdout, NULL, _IOLBF, 0);
    int count = 3 + rand() % 8; /* 3..10 readings: 9 or more trigger the bug */

    for (int i = 0; i < count; i++) {
        int t = read_sensor();
        printf("reading %d: %d C\n", i + 1, t);
        add_reading(t);
    }

    int sum = 0;
    for (int i = 0; i < stored; i++)
        sum += sensor.history[i];
    printf("%s: average of last %d readings: %d C\n", sensor.name, stored, sum / stored);
    return 0;
}
