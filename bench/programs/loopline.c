/* For the forward `next` benchmark: one source line that loops many times. */
#include <stdio.h>

volatile long sum;

int main(void) {
    long n = 20000;
    sum = 0;
    for (long i = 0; i < n; i++) sum += i; /* LOOP LINE */
    printf("%ld\n", sum);
    return 0;
}
