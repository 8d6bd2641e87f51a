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
