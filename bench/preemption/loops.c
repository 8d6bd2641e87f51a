/* The loops whose points in time the preemption study names: each mode is one of the
 * cases issue 9 item 4 lists (the atomic counter, a spin on a flag, memcpy and strlen
 * from libc), and "alarm" is the end-to-end case: a busy loop that a SIGALRM handler
 * stops, printing how many iterations ran. Modes loop until a flag that only a signal
 * sets, so a driver stepping them never reaches an end it did not choose. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static unsigned long count;          /* the hard case's counter: memory, not a register */
static char src[4096], dst[4096];
/* Called through volatile pointers, so that the compiler neither inlines nor drops them:
 * the point is libc's own loops. */
static void *(*volatile copy)(void *, const void *, size_t) = memcpy;
static size_t (*volatile length)(const char *) = strlen;

static void on_alarm(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "atomic";
  signal(SIGALRM, on_alarm);
  if (strcmp(mode, "atomic") == 0) {
    while (!stop) __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED);
  } else if (strcmp(mode, "spin") == 0) {
    while (!stop) { }
  } else if (strcmp(mode, "memcpy") == 0) {
    memset(src, 'x', sizeof src - 1);
    while (!stop) { copy(dst, src, sizeof src); __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED); }
  } else if (strcmp(mode, "strlen") == 0) {
    memset(src, 'x', sizeof src - 1);
    size_t total = 0;
    while (!stop) { total += length(src); __atomic_store_n(&count, total, __ATOMIC_RELAXED); }
  } else if (strncmp(mode, "alarm", 5) == 0) {
    /* ITIMER_REAL at a few ms: the signal arrives in the middle of the loop. "alarm"
     * counts in memory (the hard case), "alarmspin" only spins: its state repeats,
     * "alarmcopy" calls memcpy: at a pc inside memcpy the count is out of sight. */
    struct itimerval t = { { 0, 0 }, { 0, argc > 2 ? atoi(argv[2]) : 20000 } };
    setitimer(ITIMER_REAL, &t, NULL);
    if (!strcmp(mode, "alarmspin")) while (!stop) { }
    else if (!strcmp(mode, "alarmcopy")) while (!stop) { copy(dst, src, sizeof src); __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED); }
    else while (!stop) __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED);
  } else {
    fprintf(stderr, "loops: unknown mode %s\n", mode);
    return 2;
  }
  printf("%s %lu\n", mode, count);
  return 0;
}
