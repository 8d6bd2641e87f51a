/* Killed by SIGKILL, which no tracer sees coming: the recording ends with that
 * death and so must the replay. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    printf("before the kill\n");
    fflush(stdout);
    kill(getpid(), SIGKILL);
    printf("never printed\n");
    return 0;
}
