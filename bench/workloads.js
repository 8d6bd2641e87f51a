// The programs the benchmark runs natively, recorded and replayed.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const WORK = path.join(root, 'bench', '.work');

function cpuloop() {
  const exe = path.join(WORK, 'cpuloop');
  if (!fs.existsSync(exe)) {
    fs.mkdirSync(WORK, { recursive: true });
    execFileSync('cc', ['-O2', '-o', exe, path.join(root, 'tests', 'programs', 'cpuloop.c')]);
  }
  return exe;
}

/** A benchmark program of bench/programs, built once with -O2. */
function benchProgram(name) {
  const exe = path.join(WORK, name);
  if (!fs.existsSync(exe)) {
    fs.mkdirSync(WORK, { recursive: true });
    execFileSync('cc', ['-O2', '-pthread', '-o', exe, path.join(root, 'bench', 'programs', `${name}.c`)]);
  }
  return exe;
}

export const WORKLOADS = {
  cpu: {
    title: 'CPU-bound loop (cpuloop, 1.5e9 iterations, no syscalls)',
    command: () => [cpuloop(), '1500000000'],
  },
  syscalls: {
    title: 'syscall-heavy: tar -cf /dev/null of /usr/share (≈130 000 syscalls)',
    command: () => ['/usr/bin/tar', '-cf', '/dev/null', '-C', '/usr/share', '.'],
  },
  io: {
    title: 'I/O-heavy: cat of a 256 MiB file to /dev/null (every byte read goes into the trace)',
    command: () => ['/bin/cat', bigFile()],
  },
  // Issue 9's targets: record wall time ≤ 1.2x the native run's total CPU time (the
  // threads run one at a time when recorded); ≤ 5x native wall for the token.
  'threads-cpu': {
    title: '4 CPU-bound threads (threads_cpu, 1e9 rounds each, no syscalls)',
    command: () => [benchProgram('threads_cpu'), '1000000000'],
    /** the program writes its total CPU time to $REWIND_BENCH_CPU: record is also compared with that */
    reportsCpu: true,
  },
  'threads-token': {
    title: '2 threads hand a token over a mutex and condvar 100 000 times (threads_token)',
    command: () => [benchProgram('threads_token'), '100000'],
  },
};

function bigFile() {
  const file = path.join(WORK, 'big.bin');
  const size = 256 * 1024 * 1024;
  if (!fs.existsSync(file) || fs.statSync(file).size !== size) {
    fs.mkdirSync(WORK, { recursive: true });
    // Half random, half text-like: neither best nor worst case for compression.
    const fd = fs.openSync(file, 'w');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 256; i++) {
      if (i % 2) for (let j = 0; j < chunk.length; j += 4) chunk.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, j);
      else chunk.fill(`line ${i} of the benchmark input file\n`);
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
  }
  return file;
}
