/* gdbdemo: a small deterministic program for the gdb tests: globals, a struct,
 * a loop, a chain of calls and library calls (strlen, printf, puts). Exits 3. */
#include <stdio.h>
#include <string.h>

struct point {
    int x;
    int y;
    const char *name;
};

int counter = 0;
long total = 0;
struct point origin = {1, 2, "origin"};
char greeting[] = "hello, gdb";

int square(int v) {
    int r = v * v;
    return r;
}

int add_squares(int a, int b) {
    int sa = square(a);
    int sb = square(b);
    return sa + sb;
}

long walk(struct point *p, int steps) {
    long sum = 0;
    for (int i = 0; i < steps; i++) {
        p->x += i;
        p->y -= 1;
        counter++;
        sum += add_squares(p->x, p->y);
    }
    return sum;
}

int main(void) {
    struct point p = {3, 4, "p"};
    size_t len = strlen(greeting);
    total = walk(&p, 5);
    printf("len=%zu total=%ld counter=%d\n", len, total, counter);
    origin.x = (int)len;
    puts(greeting);
    return 3;
}
