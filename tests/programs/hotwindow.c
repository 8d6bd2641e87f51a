/* hotwindow: reverse searches whose windows cross events into an interval where a
 * breakpoint is hit very often (docs/timeline.md, "reverse-continue"). Phase 1
 * computes without calls; sched_yield() (a syscall, so a new interval starts);
 * phase 2 calls hot(i) argv[1] times (default 300000); mid(); phase 3 computes
 * argv[2] iterations (default 20000000) without calls; after(); done(). With
 * "timer" as argv[3], a SIGALRM every 2 ms is counted all along (the intervals are
 * then the stretches between the signals' points too). Prints a checksum of what
 * the phases computed, and the ticks. */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static volatile unsigned long ticks;
volatile unsigned long sum, last;

__attribute__((noinline)) void hot(unsigned long i) { last = i; sum += i; }
__attribute__((noinline)) void mid(void) { __asm__ volatile(""); }
__attribute__((noinline)) void after(void) { __asm__ volatile(""); }
__attribute__((noinline)) void done(void) { __asm__ volatile(""); }
static void on_alarm(int sig) { (void)sig; ticks++; }

static unsigned long compute(unsigned long n, unsigned long x) {
  for (unsigned long i = 0; i < n; i++) x = x * 6364136223846793005ul + 1442695040888963407ul;
  return x;
}

int main(int argc, char **argv) {
  unsigned long hots = argc > 1 ? strtoul(argv[1], NULL, 10) : 300000;
  unsigned long quiet = argc > 2 ? strtoul(argv[2], NULL, 10) : 20000000;
  if (argc > 3 && !strcmp(argv[3], "timer")) {
    signal(SIGALRM, on_alarm);
    struct itimerval t = { { 0, 2000 }, { 0, 2000 } };
    setitimer(ITIMER_REAL, &t, NULL);
  }
  unsigned long x = compute(quiet / 4, 1);
  sched_yield();
  for (unsigned long i = 0; i < hots; i++) hot(i);
  mid();
  x = compute(quiet, x);
  after();
  done();
  printf("hotwindow: sum %lu last %lu x %lx ticks %lu\n", sum, last, x, ticks);
  return 0;
}
