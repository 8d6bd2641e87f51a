/* daemon(): the program forks, the parent exits at once, the child goes on in its own
 * session (issue 14: the recorder hung waiting for it). The daemon writes its pid to
 * $EDGE_DIR/daemon.pid, then waits for SIGTERM (the test checks it is alive, ends it). */
#include "edge.h"

int main(void) {
  printf("going into the background\n");
  const char *pidfile = scratch("daemon.pid");
  if (daemon(1, 0) < 0) {
    printf("daemon: %s\n", errname(errno));
    return 1;
  }
  /* the daemon: stdio is /dev/null now */
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", pidfile);
  FILE *f = fopen(tmp, "w");
  if (f) {
    fprintf(f, "%d\n", getpid());
    fclose(f);
    rename(tmp, pidfile);
  }
  for (int i = 0; i < 600; i++) sleep(1);  /* ended by the test */
  return 0;
}
