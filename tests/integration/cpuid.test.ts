// CPUID from the trace (issue 13, docs/portability.md), without a second machine:
// the program's CPUID instructions are answered by rewind in the recording and
// in the replay, through patched traps (forced with REWIND_CPUID_FAULTING=0, the
// only way on a CPU without CPUID faulting) or through faulting where this CPU
// has it. Another vendor's machine is stood in for by a real dump of its answers
// (tests/fixtures/cpuid), given to the recorder with the tests-only --cpuid-from.
import * as fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeJsonEvent, EventKind } from '../../src/history/events.js';
import { TraceReader } from '../../src/history/index.js';
import { ROOT, describeRun, programPath, rewind, runNative, tempDir, type RunResult } from '../helpers.js';
import { rewriteTrace } from '../trace-edit.js';

const LD_SO = '/lib64/ld-linux-x86-64.so.2';
const TRAP = { REWIND_CPUID_FAULTING: '0' };
const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
const HOST_VENDOR = /^vendor_id\s*:\s*(\S+)/m.exec(cpuinfo)?.[1] ?? 'unknown';
const HAS_FAULTING = /^flags\s*:.*\bcpuid_fault\b/m.test(cpuinfo);
/** A real dump from the other vendor's machine than this one. */
const FOREIGN = HOST_VENDOR === 'GenuineIntel'
  ? { file: path.join(ROOT, 'tests/fixtures/cpuid/amd-epyc-milan.txt'), vendor: 'AuthenticAMD' }
  : { file: path.join(ROOT, 'tests/fixtures/cpuid/intel-xeon-haswell.txt'), vendor: 'GenuineIntel' };

function record(cmd: string[], extra: string[] = [], env: Record<string, string> = TRAP): { trace: string; run: RunResult } {
  const root = tempDir('rewind-cpuid-');
  const trace = path.join(root, 'trace');
  const run = rewind(['record', ...extra, '-o', trace, '--', ...cmd], { env, traceRoot: root });
  expect(run.status, describeRun(run)).toBe(0);
  return { trace, run };
}

function replay(trace: string, env: Record<string, string> = TRAP): RunResult {
  return rewind(['replay', '--check', trace], { env });
}

function cpuidEvents(trace: string) {
  const r = TraceReader.open(trace);
  try {
    const out = [];
    for (let i = 0; i < r.eventCount; i++) {
      const e = decodeEvent(r.record(i));
      if (e.kind === 'cpuid') out.push({ index: i, ...e });
    }
    return out;
  } finally {
    r.close();
  }
}

function metaOf(trace: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(trace, 'meta.json'), 'utf8'));
}

describe('every CPUID the program executes is answered from the trace', () => {
  for (const variant of [{ static: false }, { static: true }]) {
    it(`through patched traps (${variant.static ? 'static' : 'dynamic'} program): same answers as natively, replayed`, () => {
      const program = programPath('cpuinfo', variant);
      const native = runNative([program]);
      const { trace, run } = record([program]);
      expect(run.stdout.toString()).toBe(native.stdout.toString());
      const events = cpuidEvents(trace);
      // ld.so's or the static libc's own feature detection, and the program's
      expect(events.length).toBeGreaterThan(10);
      expect(events.every((e) => e.how === 0)).toBe(true);
      expect(metaOf(trace).cpuid.trap).toBe('patched');
      const again = replay(trace);
      expect(again.status, describeRun(again)).toBe(0);
      expect(again.stdout.toString()).toBe(native.stdout.toString());
    });
  }

  it.runIf(HAS_FAULTING)('through CPUID faulting where this CPU has it, replayed with faulting and with traps', () => {
    const program = programPath('cpuinfo');
    const native = runNative([program]);
    const { trace, run } = record([program], [], {});
    expect(run.stdout.toString()).toBe(native.stdout.toString());
    expect(metaOf(trace).cpuid.trap).toBe('faulting');
    const events = cpuidEvents(trace);
    expect(events.length).toBeGreaterThan(10);
    expect(events.every((e) => e.how === 1)).toBe(true);
    for (const env of [{}, TRAP]) {
      const again = replay(trace, env);
      expect(again.status, describeRun(again)).toBe(0);
      expect(again.stdout.toString()).toBe(native.stdout.toString());
    }
  });

  it('forked children run their CPUID live, untrapped, both ways', () => {
    for (const env of HAS_FAULTING ? [TRAP, {}] : [TRAP]) {
      const { trace, run } = record([programPath('forkcpuid')], [], env);
      expect(run.stdout.toString()).toBe('fork child agrees: 1, vfork child exited 0, fork child agrees: 1\n');
      const again = replay(trace, env);
      expect(again.status, describeRun(again)).toBe(0);
      expect(again.stdout.toString()).toBe(run.stdout.toString());
    }
  });

  it('a replay that asks another leaf than the recording diverges at that event', () => {
    const { trace } = record([programPath('cpuinfo')]);
    const target = cpuidEvents(trace).find((e) => e.leaf === 7)!;
    const edited = path.join(tempDir('rewind-cpuid-edit-'), 'edited');
    rewriteTrace(trace, edited, {
      record(i, rec) {
        if (i === target.index) rec.writeUInt32LE(0x6, 12);
        return rec;
      },
    });
    const again = replay(edited);
    expect(again.status, describeRun(again)).toBe(125);
    expect(again.stderr.toString()).toContain(`diverged from the recording at event ${target.index}: the recording has cpuid leaf 0x6`);
    expect(again.stderr.toString()).toContain('the replay made cpuid leaf 0x7');
  });
});

describe('a trace recorded with another vendor\'s CPUID answers', () => {
  it(`shows ${FOREIGN.vendor}'s answers in the program and in ld.so's choices, recorded and replayed here`, () => {
    const program = programPath('cpuinfo');
    const native = runNative([program]).stdout.toString();
    const { trace, run } = record([program], ['--cpuid-from', FOREIGN.file]);
    const recorded = run.stdout.toString();
    expect(recorded).toContain(`vendor ${FOREIGN.vendor} `);
    expect(native).toContain(`vendor ${HOST_VENDOR} `);
    expect(recorded).not.toBe(native);
    expect(metaOf(trace).cpuid.answeredFrom).toContain(path.basename(FOREIGN.file));
    for (const env of [TRAP, {}]) {
      const again = replay(trace, env);
      expect(again.status, describeRun(again)).toBe(0);
      expect(again.stdout.toString()).toBe(recorded);
    }
  });

  it('ld.so searches the glibc-hwcaps levels the foreign CPU supports, not this one\'s', () => {
    const hwcaps = (out: string) => /Subdirectories of glibc-hwcaps directories[^\n]*\n((?: {2}\S.*\n)+)/.exec(out)?.[1] ?? '';
    const { trace, run } = record([LD_SO, '--help'], ['--cpuid-from', FOREIGN.file]);
    const recorded = hwcaps(run.stdout.toString());
    // neither foreign machine has AVX-512: x86-64-v4 is listed but not supported
    expect(recorded).toMatch(/^ {2}x86-64-v4\n/m);
    expect(recorded).toMatch(/x86-64-v2 \(supported, searched\)/);
    const again = replay(trace);
    expect(again.status, describeRun(again)).toBe(0);
    expect(hwcaps(again.stdout.toString())).toBe(recorded);
  });
});

describe('rewind record --portable', () => {
  it('hides what x86-64-v3 lacks, says so in meta.json and rewind ls, and replays', () => {
    const root = tempDir('rewind-portable-');
    const trace = path.join(root, 'portable');
    const run = rewind(['record', '--portable', '-o', trace, '--', programPath('cpuinfo')], { env: TRAP, traceRoot: root });
    expect(run.status, describeRun(run)).toBe(0);
    expect(run.stdout.toString()).toMatch(/avx2 1 avx512f 0 rtm 0/);
    const meta = metaOf(trace).cpuid;
    expect(meta.baseline).toBe('x86-64-v3');
    const hostHas = (flag: string) => new RegExp(`^flags\\s*:.*\\b${flag}\\b`, 'm').test(cpuinfo);
    for (const f of ['avx512f', 'rtm', 'hle']) if (hostHas(f)) expect(meta.hidden).toContain(f);
    for (const f of ['avx2', 'avx', 'bmi2', 'fma']) expect(meta.hidden).not.toContain(f);
    const again = replay(trace);
    expect(again.status, describeRun(again)).toBe(0);
    expect(again.stdout.toString()).toBe(run.stdout.toString());
    const ls = rewind(['ls'], { traceRoot: root });
    expect(ls.stdout.toString()).toMatch(new RegExp(`portable .* x86-64-v3, ${meta.hidden.length} hidden`));
    if (meta.hidden.length) expect(ls.stdout.toString()).toContain(`hidden: ${meta.hidden.join(' ')}`);
  });

  it('ld.so then searches x86-64-v3 at most', () => {
    const { run } = record([LD_SO, '--help'], ['--portable']);
    expect(run.stdout.toString()).toMatch(/^ {2}x86-64-v4\n {2}x86-64-v3 \(supported, searched\)/m);
  });
});

describe('a trace this CPU cannot replay is refused at the start, naming why', () => {
  function refusedWith(trace: string, change: (cpuid: Record<string, any>, meta: Record<string, unknown>) => void): RunResult {
    const edited = path.join(tempDir('rewind-refuse-'), 'edited');
    rewriteTrace(trace, edited, {
      meta(meta) {
        const cpuid = JSON.parse(JSON.stringify(meta.cpuid));
        change(cpuid, meta);
        return { ...meta, cpuid };
      },
    });
    const again = replay(edited);
    expect(again.status, describeRun(again)).toBe(125);
    expect(again.stdout.toString()).toBe(''); // nothing ran
    return again;
  }

  it('features the program was told about and this CPU lacks', () => {
    const { trace } = record([programPath('cpuinfo')]);
    const r = refusedWith(trace, (c) => {
      c.answers = c.host.map((row: number[]) => (row[0] === 7 && row[1] === 0 ? [7, 0, row[2], row[3], row[4], (row[5] | 0xc) >>> 0] : row));
    });
    // avx512_4vnniw and avx512_4fmaps: Xeon Phi only
    expect(r.stderr.toString()).toMatch(/cannot be replayed on this CPU: the recorded program was told the CPU has avx512_4vnniw, avx512_4fmaps, which this CPU lacks/);
  });

  it('XCR0 state the program may have read with XGETBV', () => {
    const { trace } = record([programPath('cpuinfo')]);
    const r = refusedWith(trace, (c) => {
      c.xcr0 = `0x${(BigInt(c.xcr0) ^ 0x4n).toString(16)}`; // the AVX state
    });
    expect(r.stderr.toString()).toMatch(/XCR0 .* differs in avx:/);
  });

  it('signal frames of another size, only when the program received signals', () => {
    // the recorded AT_MINSIGSTKSZ (in the exec event's auxv) as another CPU's XSAVE size makes it
    const otherFrames = (trace: string) => {
      const edited = path.join(tempDir('rewind-frames-'), 'edited');
      rewriteTrace(trace, edited, {
        record(i, rec) {
          if (i !== 0) return rec;
          const e = decodeEvent(rec);
          if (e.kind !== 'exec') throw new Error('event 0 is not an exec');
          const auxv = Buffer.from(e.snapshot.auxv, 'hex');
          for (let at = 0; at + 16 <= auxv.length; at += 16) {
            if (auxv.readBigUInt64LE(at) === 51n) auxv.writeBigUInt64LE(auxv.readBigUInt64LE(at + 8) + 1024n, at + 8);
          }
          return encodeJsonEvent(EventKind.Exec, e.tid, { ...e.snapshot, auxv: auxv.toString('hex') });
        },
      });
      return edited;
    };
    const withSignals = record([programPath('signals')]).trace;
    expect(JSON.parse(fs.readFileSync(path.join(withSignals, 'end.json'), 'utf8')).signals).toBeGreaterThan(0);
    const refused = replay(otherFrames(withSignals));
    expect(refused.status, describeRun(refused)).toBe(125);
    expect(refused.stderr.toString()).toMatch(/signal frames of another size here \(AT_MINSIGSTKSZ \d+, \d+ when recorded/);
    const quiet = record([programPath('cpuinfo')]);
    const fine = replay(otherFrames(quiet.trace));
    expect(fine.status, describeRun(fine)).toBe(0);
    expect(fine.stdout.toString()).toBe(quiet.run.stdout.toString());
  });
});
