/* timerand: everything that differs between two native runs: time(),
 * clock_gettime (REALTIME, MONOTONIC; served by the vDSO natively),
 * gettimeofday, getrandom, rand() seeded from time^pid, getpid, getppid.
 * Replay must print exactly what the recorded run printed. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    time_t t = time(NULL);
    struct timespec rt, mono;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    struct timeval tv;
    gettimeofday(&tv, NULL);

    unsigned char rnd[16];
    ssize_t got = getrandom(rnd, sizeof rnd, 0);

    pid_t pid = getpid(), ppid = getppid();
    srand((unsigned)(t ^ pid));
    int r1 = rand(), r2 = rand(), r3 = rand();

    printf("time: %lld\n", (long long)t);
    printf("realtime: %lld.%09ld\n", (long long)rt.tv_sec, rt.tv_nsec);
    printf("monotonic: %lld.%09ld\n", (long long)mono.tv_sec, mono.tv_nsec);
    printf("gettimeofday: %lld.%06ld\n", (long long)tv.tv_sec, (long)tv.tv_usec);
    printf("getrandom: %zd bytes: ", got);
    for (int i = 0; i < 16; i++) printf("%02x", rnd[i]);
    printf("\n");
    printf("rand: %d %d %d\n", r1, r2, r3);
    printf("pid: %d ppid: %d\n", (int)pid, (int)ppid);

    /* the clocks must agree with each other within a couple of seconds */
    long long d1 = (long long)rt.tv_sec - (long long)t;
    long long d2 = (long long)tv.tv_sec - (long long)rt.tv_sec;
    printf("clocks consistent: %s\n",
           (d1 >= 0 && d1 <= 2 && d2 >= 0 && d2 <= 2) ? "yes" : "no");

    /* a second monotonic reading must not go backwards */
    struct timespec mono2;
    clock_gettime(CLOCK_MONOTONIC, &mono2);
    int forward = mono2.tv_sec > mono.tv_sec ||
                  (mono2.tv_sec == mono.tv_sec && mono2.tv_nsec >= mono.tv_nsec);
    printf("monotonic forward: %s\n", forward ? "yes" : "no");
    return 0;
}
