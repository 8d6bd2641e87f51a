// Replay compares the argument registers a syscall reads, and only the bits of them
// the kernel reads (issue 13: a trace from another machine stopped at an lseek whose
// sixth register, which lseek never reads, held other junk). The traces here are
// edited with the trace's own reader and writer to hold the other machine's junk.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/history/events.js';
import { TraceReader } from '../../src/history/index.js';
import { describeRun, programPath, rewind, tempDir } from '../helpers.js';
import { rewriteTrace } from '../trace-edit.js';

const JUNK = 0x4f8bffffn;
const LSEEK = 8;
/** args offset in a syscall record: header 12, nr 4, nwrites 4 */
const ARGS_AT = 20;

function recordJunkargs(): string {
  const root = tempDir('rewind-arity-');
  const trace = path.join(root, 'recorded');
  const r = rewind(['record', '-o', trace, '--', programPath('junkargs')], { traceRoot: root });
  expect(r.status, describeRun(r)).toBe(0);
  return trace;
}

/** The index of the program's marked lseek (junk in r9). */
function markedLseek(trace: string): number {
  const reader = TraceReader.open(trace);
  try {
    for (let i = 0; i < reader.eventCount; i++) {
      const e = decodeEvent(reader.record(i));
      if (e.kind === 'syscall' && e.nr === LSEEK && e.args[5] === JUNK) return i;
    }
  } finally {
    reader.close();
  }
  throw new Error(`no lseek with 0x${JUNK.toString(16)} in r9 in ${trace}`);
}

/** A copy of the trace whose marked lseek had `change(args)` in its registers. */
function withArgs(trace: string, change: (args: bigint[]) => void): string {
  const at = markedLseek(trace);
  const out = path.join(tempDir('rewind-arity-edit-'), 'edited');
  rewriteTrace(trace, out, {
    record(i, rec) {
      if (i !== at) return rec;
      const args = [0, 1, 2, 3, 4, 5].map((k) => rec.readBigUInt64LE(ARGS_AT + 8 * k));
      change(args);
      args.forEach((v, k) => rec.writeBigUInt64LE(BigInt.asUintN(64, v), ARGS_AT + 8 * k));
      return rec;
    },
  });
  return out;
}

describe('divergence checks compare the argument bits a syscall reads', () => {
  it('other junk in registers lseek does not read, and in the upper half of its int arguments, replays', () => {
    const trace = recordJunkargs();
    const edited = withArgs(trace, (a) => {
      a[0] ^= 0x12345678n << 32n; // fd is an unsigned int: the kernel reads 32 bits
      a[2] ^= 0x9n << 40n; // whence too
      a[3] = 0x7ffff7ffec10n; // r10, r8, r9: lseek has three arguments
      a[4] = 0n;
      a[5] = 0x78bffffn;
    });
    const replay = rewind(['replay', '--check', edited]);
    expect(replay.stderr.toString(), describeRun(replay)).not.toMatch(/diverged/);
    expect(replay.status, describeRun(replay)).toBe(0);
    expect(replay.stdout.toString()).toBe('lseek says 10\n');
  });

  it('a difference in a bit lseek reads still stops the replay at that event', () => {
    const trace = recordJunkargs();
    const at = markedLseek(trace);
    for (const [what, change] of [
      ['whence', (a: bigint[]) => { a[2] ^= 1n; }],
      ['offset (64 bits)', (a: bigint[]) => { a[1] ^= 1n << 63n; }],
      ['fd', (a: bigint[]) => { a[0] ^= 0x80000000n; }],
    ] as const) {
      const replay = rewind(['replay', '--check', withArgs(trace, change)]);
      expect(replay.status, `${what}: ${describeRun(replay)}`).toBe(125);
      expect(replay.stderr.toString(), what).toMatch(new RegExp(`diverged from the recording at event ${at}: the recording has lseek\\(`));
    }
  });
});
