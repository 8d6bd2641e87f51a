/* revloop: one long CPU-bound stretch without syscalls (argv[1] iterations,
 * default 250000000: about half a second), then loop_done() and a printf.
 * never_called() is never executed. For the interrupt (^C) tests of reverse
 * execution in gdb-reverse-more.test.ts. Exits 0. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

volatile uint64_t sink;

void never_called(void) {
    sink = 1;
}

void loop_done(uint64_t acc) {
    sink = acc;
}

int main(int argc, char **argv) {
    unsigned long long iters = argc > 1 ? strtoull(argv[1], NULL, 10) : 250000000ull;
    uint64_t x = 88172645463325252ull, acc = 0;
    for (unsigned long long i = 0; i < iters; i++) {
        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        acc += x >> 32;
    }
    loop_done(acc);
    printf("revloop: %llu iterations, result %016llx\n", iters, (unsigned long long)acc);
    return 0;
}
