/* ticker: prints "tick N" every INTERVAL ms, COUNT times (defaults: 60 every
 * 50 ms, i.e. 3 s), flushing each line. If PIDFILE is given, writes its pid
 * there first. Used to kill the recorder in the middle of a run.
 * usage: ticker [COUNT] [INTERVAL_MS] [PIDFILE] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 60;
    int interval_ms = argc > 2 ? atoi(argv[2]) : 50;
    if (argc > 3) {
        FILE *f = fopen(argv[3], "w");
        if (!f) {
            perror(argv[3]);
            return 1;
        }
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
    for (int i = 1; i <= count; i++) {
        printf("tick %d\n", i);
        fflush(stdout);
        if (interval_ms > 0 && i < count) {
            struct timespec ts = {interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    printf("ticker done\n");
    return 0;
}
