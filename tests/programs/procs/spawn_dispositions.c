/* Signal dispositions set by children before their exec, for the replay's
 * rt_sigaction answered without running it (addon/replay_sigaction.h).
 *
 * The parent catches SIGUSR1 and SIGTERM and ignores SIGUSR2 and SIGPIPE. It
 * posix_spawns itself with SIGUSR2 in the default set: glibc's child (a vfork-like
 * clone) asks for and sets dispositions before its exec, most of them to what they
 * already are (SIG_DFL over SIG_DFL), SIGUSR2 from ignored back to the default, the
 * caught ones back to the default. The new program prints what it inherited, raises
 * SIGPIPE (still ignored: it goes on) and SIGUSR2 (the default again: it dies of
 * it). A replay whose kernel had kept SIGUSR2 ignored would not die there.
 *
 * Then a vfork child installs a handler for SIGUSR1 (a set that must run), takes
 * SIGUSR1 in it, sets SIGUSR1 to SIG_IGN and SIGUSR2 to SIG_IGN again (a set over
 * the same class) and exits with what its handler saw.
 */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t got;
static void on_signal(int sig) { got = sig; }

static const char *disposition(int sig) {
  struct sigaction old;
  if (sigaction(sig, NULL, &old) != 0) return "?";
  return old.sa_handler == SIG_IGN ? "ignored" : old.sa_handler == SIG_DFL ? "default" : "caught";
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) {
    printf("child: SIGUSR1 %s, SIGUSR2 %s, SIGTERM %s, SIGPIPE %s\n", disposition(SIGUSR1), disposition(SIGUSR2),
           disposition(SIGTERM), disposition(SIGPIPE));
    fflush(stdout);
    raise(SIGPIPE);  /* ignored across the exec: goes on */
    printf("child: alive after SIGPIPE\n");
    fflush(stdout);
    raise(SIGUSR2);  /* back to the default in the spawn: dies of it */
    printf("child: alive after SIGUSR2\n");
    return 0;
  }
  signal(SIGUSR1, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGUSR2, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGUSR2);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  char *args[] = {argv[0], "child", NULL};
  pid_t c;
  if (posix_spawn(&c, "/proc/self/exe", NULL, &attr, args, environ) != 0) return 1;
  int st;
  if (waitpid(c, &st, 0) != c) return 1;
  printf("spawned child %s %d\n", WIFSIGNALED(st) ? "killed by signal" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));

  pid_t v = vfork();
  if (v == 0) {
    signal(SIGUSR1, on_signal);
    raise(SIGUSR1);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    _exit(got == SIGUSR1 ? 7 : 8);
  }
  if (waitpid(v, &st, 0) != v) return 1;
  printf("vfork child exited %d\n", WEXITSTATUS(st));
  printf("parent: SIGUSR1 %s, SIGUSR2 %s\n", disposition(SIGUSR1), disposition(SIGUSR2));
  return 0;
}
