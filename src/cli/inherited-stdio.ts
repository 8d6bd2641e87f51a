// Whether rewind's own stdin, stdout and stderr were non-blocking when it started,
// noted before Node changes that.
//
// The first time process.stdout, process.stderr or process.stdin is touched
// (printing help does, and Node itself when it loads `assert`), libuv turns
// O_NONBLOCK on for a pipe or socket (uv_pipe_open). That flag belongs to the
// open file description, which the recorded program shares when it inherits
// the fd: natively blocking, its stdout became non-blocking under the recorder,
// and a program that writes faster than a slow reader reads got EAGAIN
// ("tar: stdout: write error"). TTYs are not affected (libuv reopens them) and
// regular files are not touched.
//
// So bin/rewind.js imports this module before anything else (and the rest
// dynamically, after it: the modules of a static import graph, builtins
// included, are all loaded before the first one runs, and loading `assert`
// touches process.stderr), and the recorder starts the program with the flag
// as it was here (addon/ptrace_ops.cc, spawnTracee). Node's own child_process
// instead makes a child's fds 0-2 blocking always; keeping what rewind was
// given is what the program gets when started without rewind. Linux's
// /proc/self/fdinfo is read because JavaScript has no fcntl, and loading the
// addon this early would pull in more modules.
import * as fs from 'node:fs';

const O_NONBLOCK = 0o4000;

/** O_NONBLOCK of fd, from /proc/self/fdinfo; undefined if it cannot be read. */
function nonBlocking(fd: number): boolean | undefined {
  try {
    const m = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m ? (parseInt(m[1], 8) & O_NONBLOCK) !== 0 : undefined;
  } catch {
    return undefined;
  }
}

const atStart = [0, 1, 2].map(nonBlocking) as [boolean | undefined, boolean | undefined, boolean | undefined];

/** fds 0, 1, 2: whether each was non-blocking when rewind started (undefined: unknown). */
export function inheritedStdioNonBlocking(): [boolean | undefined, boolean | undefined, boolean | undefined] {
  return [...atStart] as [boolean | undefined, boolean | undefined, boolean | undefined];
}
