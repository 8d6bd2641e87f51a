/* signals: signal delivery that replay must reproduce at the same points.
 *  1. SIGSEGV from a write near NULL, caught by an SA_SIGINFO handler that
 *     records si_addr and siglongjmps out.
 *  2. raise(SIGUSR1) with a handler that prints.
 *  3. A setitimer (ITIMER_REAL) SIGALRM interrupting a read() from a pipe that
 *     nobody writes; the handler is installed without SA_RESTART, so read()
 *     fails with EINTR.
 *  4. SIGUSR2 blocked with sigprocmask, raised (stays pending), then
 *     unblocked: the handler runs when the mask is lifted. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static sigjmp_buf segv_jump;
static void *volatile fault_addr;
static volatile sig_atomic_t fault_code;
static volatile sig_atomic_t usr1_count, alrm_count, usr2_count;

static void on_segv(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    fault_addr = si->si_addr;
    fault_code = si->si_code;
    siglongjmp(segv_jump, 1);
}

static void on_usr1(int sig) {
    static const char msg[] = "in SIGUSR1 handler\n";
    (void)sig;
    usr1_count++;
    write(1, msg, sizeof msg - 1);
}

static void on_alrm(int sig) {
    (void)sig;
    alrm_count++;
}

static void on_usr2(int sig) {
    (void)sig;
    usr2_count++;
}

static void install(int sig, void (*fn)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0) perror("sigaction");
}

int main(void) {
    /* 1. SIGSEGV */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    if (sigsetjmp(segv_jump, 1) == 0) {
        volatile int *p = NULL;
        p[16] = 42; /* faults at address 0x40 */
        printf("no fault?\n");
    } else {
        printf("SIGSEGV caught: si_addr=%p si_code=%d (SEGV_MAPERR=%d)\n", fault_addr,
               (int)fault_code, SEGV_MAPERR);
    }

    /* 2. raise(SIGUSR1) */
    install(SIGUSR1, on_usr1, 0);
    fflush(stdout); /* the handler write()s directly: keep the order */
    int rc = raise(SIGUSR1);
    printf("raise(SIGUSR1) = %d, handler ran %d time(s)\n", rc, (int)usr1_count);

    /* 3. a timer signal interrupts a blocking read */
    install(SIGALRM, on_alrm, 0); /* no SA_RESTART */
    int fds[2];
    if (pipe(fds) < 0) {
        perror("pipe");
        return 1;
    }
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_usec = 100 * 1000;
    setitimer(ITIMER_REAL, &it, NULL);
    char c;
    errno = 0;
    ssize_t n = read(fds[0], &c, 1);
    int e = errno;
    printf("read from empty pipe = %zd, errno=%d (%s), EINTR=%s, alarm handler ran %d time(s)\n",
           n, e, strerror(e), e == EINTR ? "yes" : "no", (int)alrm_count);
    close(fds[0]);
    close(fds[1]);

    /* 4. a blocked signal stays pending until unblocked */
    install(SIGUSR2, on_usr2, 0);
    sigset_t block, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, NULL);
    raise(SIGUSR2);
    sigpending(&pending);
    printf("SIGUSR2 blocked: pending=%d handler ran %d time(s)\n",
           sigismember(&pending, SIGUSR2), (int)usr2_count);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    sigpending(&pending);
    printf("SIGUSR2 unblocked: pending=%d handler ran %d time(s)\n",
           sigismember(&pending, SIGUSR2), (int)usr2_count);
    return 0;
}
