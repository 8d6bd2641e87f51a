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
  make: {
    title: 'build: make -B of a small C project (8 files; make, cc, cc1, as, collect2, ld: 26 processes)',
    command: () => ['make', '-B', '-s', '-C', smallProject()],
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
    /** its threads hand over to each other: natively also timed on one CPU (bench/native.js) */
    handsOver: true,
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

// A small C project: seven units and a main, each including a few libc headers (as
// real code does: most of cc1's time is reading them), built by make. `make -B`
// rebuilds it all at every run, recorded or not.
function smallProject() {
  const dir = path.join(WORK, 'make-project');
  if (fs.existsSync(path.join(dir, 'Makefile'))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const units = [1, 2, 3, 4, 5, 6, 7];
  for (const u of units) {
    fs.writeFileSync(path.join(dir, `unit${u}.c`), [
      '#include <stdio.h>', '#include <stdlib.h>', '#include <string.h>', '#include <stdint.h>', '',
      `struct item${u} { char name[32]; uint32_t weight; struct item${u} *next; };`, '',
      `static uint32_t mix${u}(uint32_t h, const char *s) {`, '  while (*s) h = (h ^ (uint8_t)*s++) * 16777619u;', '  return h;', '}', '',
      `uint32_t unit${u}(int n) {`,
      `  struct item${u} *head = NULL;`,
      '  for (int i = 0; i < n; i++) {',
      `    struct item${u} *it = calloc(1, sizeof *it);`,
      `    snprintf(it->name, sizeof it->name, "unit${u}-%d", i);`,
      `    it->weight = mix${u}(2166136261u, it->name) % 1000;`,
      '    it->next = head;', '    head = it;', '  }',
      '  uint32_t sum = 0;',
      `  while (head) { struct item${u} *next = head->next; sum += head->weight + (uint32_t)strlen(head->name); free(head); head = next; }`,
      '  return sum;', '}', '',
    ].join('\n'));
  }
  fs.writeFileSync(path.join(dir, 'main.c'), [
    '#include <stdio.h>', '#include <stdint.h>',
    ...units.map((u) => `uint32_t unit${u}(int n);`),
    'int main(void) {', '  uint32_t total = 0;', ...units.map((u) => `  total += unit${u}(${u * 100});`),
    '  printf("%u\\n", total);', '  return 0;', '}', '',
  ].join('\n'));
  const objects = ['main.o', ...units.map((u) => `unit${u}.o`)].join(' ');
  fs.writeFileSync(path.join(dir, 'Makefile'), `prog: ${objects}\n\tcc -o prog ${objects}\n%.o: %.c\n\tcc -O1 -c -o $@ $<\n`);
  return dir;
}
