// Replay serves the calls the recording buffered in-process, from the feed rewind
// fills ahead of the program (docs/syscallbuf.md, "Replay"), and still checks them:
// a trace edited inside a buffered stretch stops the replay at the event that no
// longer matches, named as before. The traces are edited with the trace's own
// reader and writer.
import * as fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent, type TraceEvent } from '../../src/history/events.js';
import { TraceReader } from '../../src/history/index.js';
import { Replayer } from '../../src/replay/replayer.js';
import { describeRun, programPath, pseudoRandomBytes, rewind, runNative, tempDir } from '../helpers.js';
import { rewriteTrace } from '../trace-edit.js';

/** glibc's fstat is newfstatat(fd, "", buf, AT_EMPTY_PATH) */
const NR = { read: 0, write: 1, lseek: 8, openat: 257, newfstatat: 262 };
/** offsets in a syscall record: args, result, the first memory write's bytes */
const ARGS_AT = 20;
const RESULT_AT = 68;
const FIRST_WRITE_BYTES_AT = 84 + 12;

type Syscall = Extract<TraceEvent, { kind: 'syscall' }> & { index: number };

let trace = '';
let native = '';
let calls: Syscall[] = [];
let inFd = -1n;
let outFd = -1n;

beforeAll(() => {
  const root = tempDir('rewind-replaybuf-');
  const input = path.join(root, 'input.bin');
  fs.writeFileSync(input, pseudoRandomBytes(20_000));
  native = runNative([programPath('bufferedio'), input]).stdout.toString();
  trace = path.join(root, 'trace');
  const r = rewind(['record', '-o', trace, '--', programPath('bufferedio'), input], { traceRoot: root });
  expect(r.status, describeRun(r)).toBe(0);
  const reader = TraceReader.open(trace);
  try {
    for (let i = 0; i < reader.eventCount; i++) {
      const e = decodeEvent(reader.record(i));
      if (e.kind === 'syscall') calls.push({ ...e, index: i });
    }
  } finally {
    reader.close();
  }
  const opens = calls.filter((c) => c.nr === NR.openat && c.result >= 0n);
  inFd = opens.at(-2)!.result;
  outFd = opens.at(-1)!.result;
}, 60_000);

/** The program's copy loop: its reads of the input and writes to /dev/null. */
const loopCalls = () => calls.filter((c) => [NR.read, NR.write, NR.newfstatat, NR.lseek].includes(c.nr) && (c.args[0] === inFd || c.args[0] === outFd));
const middleRead = () => {
  const reads = loopCalls().filter((c) => c.nr === NR.read && c.result === 64n);
  return reads[reads.length >> 1];
};
const writeAfter = (index: number) => calls.find((c) => c.index > index && c.nr === NR.write && c.args[0] === outFd)!;

function edited(at: number, change: (rec: Buffer) => void): string {
  const out = path.join(tempDir('rewind-replaybuf-edit-'), 'edited');
  rewriteTrace(trace, out, {
    record(i, rec) {
      if (i === at) change(rec);
      return rec;
    },
  });
  return out;
}

function replayCheck(t: string) {
  const r = rewind(['replay', '--check', t]);
  return { r, stderr: r.stderr.toString() };
}

describe('replay of buffered syscalls in-process', () => {
  it('serves the copy loop without stops and replays what the program did natively', async () => {
    expect(loopCalls().length).toBeGreaterThan(1000);
    const reader = TraceReader.open(trace);
    const replayer = await Replayer.start(reader);
    const outputs: Buffer[] = [];
    const outcome = await replayer.run({ onOutput: (_fd, data) => outputs.push(data) });
    reader.close();
    expect(outcome).toMatchObject({ kind: 'exited', code: 0 });
    expect(Buffer.concat(outputs).toString()).toBe(native);
    // Only a call at a fill's end (a chunk boundary of the trace) stops.
    expect(outcome.served).toBeGreaterThan(loopCalls().length - 10);
  });

  it('a tampered buffered read is caught at the write that no longer matches, and named', () => {
    const read = middleRead();
    const write = writeAfter(read.index);
    const t = edited(read.index, (rec) => {
      rec[FIRST_WRITE_BYTES_AT + 10] ^= 0x5a;
    });
    const { r, stderr } = replayCheck(t);
    expect(r.status, describeRun(r)).toBe(125);
    expect(stderr).toContain(`diverged from the recording at event ${write.index}: the recording has write(`);
    expect(stderr).toMatch(/writing 64 recorded bytes, the replay made the same call writing 64 different bytes/);
  });

  it('a tampered buffered result is caught where the program acts on it', () => {
    const read = middleRead();
    const write = writeAfter(read.index);
    const t = edited(read.index, (rec) => rec.writeBigInt64LE(63n, RESULT_AT));
    const { r, stderr } = replayCheck(t);
    expect(r.status, describeRun(r)).toBe(125);
    expect(stderr).toContain(`diverged from the recording at event ${write.index}: the recording has write(`);
    expect(stderr).toMatch(/the recording has write\(0x\w+, 0x\w+, 0x40,.*the replay made write\(0x\w+, 0x\w+, 0x3f,/);
  });

  it('a buffered call the program makes with other arguments stops the replay at that event', () => {
    const fstat = loopCalls().filter((c) => c.nr === NR.newfstatat)[100];
    const t = edited(fstat.index, (rec) => rec.writeBigUInt64LE(fstat.args[0] + 7n, ARGS_AT));
    const { r, stderr } = replayCheck(t);
    expect(r.status, describeRun(r)).toBe(125);
    expect(stderr).toContain(`diverged from the recording at event ${fstat.index}: the recording has newfstatat(`);
  });
});
