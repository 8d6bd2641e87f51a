// A replayed syscall the loop only compares and answers takes one ptrace stop
// (PTRACE_SYSEMU: the kernel skips the call at its entry), a call that runs takes
// the usual two, and a skipped entry whose call must run after all is entered again
// (addon/replay_sysemu.h). Each program here is recorded once and replayed three
// ways: as shipped (the loop predicts which calls it will answer), with
// REWIND_SYSEMU=off (every call reached with PTRACE_SYSCALL, as before), and with
// REWIND_SYSEMU=always (every entry skipped first, so every call that runs, of
// every kind the programs make: mmap, brk, clone, execve, exit_group, sigsuspend,
// rt_sigaction..., goes through the re-entry). All three must end as the recording
// did and echo what it printed; the loop's counts (REWIND_TRACE_RUNS) show that each
// way did what it says.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_DIR, describeRun, rewind, tempDir } from '../helpers.js';

interface Counts {
  skipped: number;
  reentered: number;
  left: number;
}

const COUNTS = /syscall entries answered at one stop (\d+), entered again (\d+), left through their exit stop (\d+)/;

function countsOf(stderr: string): Counts {
  const m = COUNTS.exec(stderr);
  if (!m) throw new Error(`no counts in the replay's stderr:\n${stderr}`);
  return { skipped: Number(m[1]), reentered: Number(m[2]), left: Number(m[3]) };
}

const CASES: { title: string; cmd: string[] }[] = [
  { title: 'signals, sigsuspend, waitid and kills of process groups', cmd: [path.join(BUILD_DIR, 'procs', 'signals_groups')] },
  { title: 'vfork, then exec of another program and of itself', cmd: [path.join(BUILD_DIR, 'procs', 'vfork_exec')] },
  { title: 'a thread other than the first execs', cmd: [path.join(BUILD_DIR, 'threads', 'thread_exec'), 'join', 'busy'] },
  { title: 'a shell pipeline', cmd: ['sh', '-c', 'seq 1 3000 | sort -rn | head -3'] },
];

describe('replayed syscalls with one stop (PTRACE_SYSEMU)', () => {
  for (const { title, cmd } of CASES) {
    it(`${title}: replayed as predicted, without it, and with every call entered again`, () => {
      const root = tempDir('rewind-sysemu-');
      const trace = path.join(root, 'trace');
      const record = rewind(['record', '-o', trace, '--', ...cmd], { traceRoot: root });
      expect(record.status, describeRun(record)).toBe(0);
      const counts: Record<string, Counts> = {};
      for (const mode of ['predict', 'off', 'always']) {
        const env: Record<string, string> = { REWIND_TRACE_RUNS: '1' };
        if (mode !== 'predict') env.REWIND_SYSEMU = mode;
        const replay = rewind(['replay', '--check', trace], { traceRoot: root, env });
        expect(replay.status, `REWIND_SYSEMU=${mode}: ${describeRun(replay)}`).toBe(record.status);
        expect(replay.stdout.toString(), `REWIND_SYSEMU=${mode}`).toBe(record.stdout.toString());
        counts[mode] = countsOf(replay.stderr.toString());
      }
      const { predict, off, always } = counts;
      // as shipped: calls answered at one stop, and a prediction that held
      expect(predict.skipped, JSON.stringify(counts)).toBeGreaterThan(0);
      expect(predict.reentered, JSON.stringify(counts)).toBe(0);
      // off: never
      expect(off, JSON.stringify(counts)).toEqual({ skipped: 0, reentered: 0, left: 0 });
      // always: every call that ran was entered again
      expect(always.reentered, JSON.stringify(counts)).toBeGreaterThan(0);
      expect(always.skipped, JSON.stringify(counts)).toBeGreaterThan(predict.skipped);
    }, 120_000);
  }
});
