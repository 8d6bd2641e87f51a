/* crash: prints a line, flushes it, then writes through a bad pointer and
 * dies of SIGSEGV (exit status 139 from a shell or from the recorder).
 * Core dumps are switched off first so no core file is left behind. */
#include <stdio.h>
#include <sys/resource.h>

int main(void) {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);

    printf("about to crash\n");
    fflush(stdout);

    volatile int *bad = (volatile int *)(unsigned long)0xdead0;
    *bad = 1;

    printf("still alive?\n"); /* not reached */
    return 0;
}
