/* revsignal: a signal handler run four times, deterministically: the loop
 * sends itself SIGUSR1 with kill(getpid()), so each delivery happens as the
 * kill syscall returns. The handler counts in `hits` and adds to `work`; the
 * loop doubles `work` after each signal. For the reverse-execution tests in
 * gdb-reverse-more.test.ts. Exits 0. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t hits = 0;
volatile long work = 0;

void on_usr1(int sig) {
    (void)sig;
    hits++;
    work += 1000 * hits;
}

void the_end(void) {
    work = -work;
}

static void install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

int main(void) {
    install();
    for (int i = 0; i < 4; i++) {
        work += i;
        kill(getpid(), SIGUSR1);
        work *= 2;
    }
    the_end();
    return 0;
}
