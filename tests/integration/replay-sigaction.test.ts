// rt_sigaction answered without running it (addon/replay_sigaction.h): a query from
// the old action the recording stored, a set that changes no disposition's class
// (SIG_DFL over SIG_DFL...) at one stop; a set that changes a class, or installs a
// handler, still runs. tests/programs/procs/spawn_dispositions.c makes both kinds in
// posix_spawn's and vfork's children, then dies of a signal whose class one of those
// sets changed and takes another in the handler another set installed: a replay that
// answered a set it had to run diverges there. Replayed as shipped and with
// REWIND_SYSEMU=off (every answered set annulled at an ordinary entry, two stops).
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_DIR, describeRun, rewind, tempDir } from '../helpers.js';

const ANSWERED = /rt_sigaction answered without running (\d+)/;

describe('rt_sigaction answered without running it in replay', () => {
  it('replays children that set dispositions before their exec, as recorded', () => {
    const root = tempDir('rewind-sigaction-');
    const trace = path.join(root, 'trace');
    const record = rewind(['record', '-o', trace, '--', path.join(BUILD_DIR, 'procs', 'spawn_dispositions')], { traceRoot: root });
    expect(record.status, describeRun(record)).toBe(0);
    const out = record.stdout.toString();
    // what the program saw, natively the same (a check of the program, not of rewind)
    expect(out).toContain('child: SIGUSR1 default, SIGUSR2 default, SIGTERM default, SIGPIPE ignored');
    expect(out).toContain('spawned child killed by signal 12');
    expect(out).toContain('vfork child exited 7');
    for (const mode of ['predict', 'off']) {
      const env: Record<string, string> = { REWIND_TRACE_RUNS: '1' };
      if (mode === 'off') env.REWIND_SYSEMU = 'off';
      const replay = rewind(['replay', '--check', trace], { traceRoot: root, env });
      expect(replay.status, `${mode}: ${describeRun(replay)}`).toBe(0);
      expect(replay.stdout.toString(), mode).toBe(out);
      const m = ANSWERED.exec(replay.stderr.toString());
      expect(m, replay.stderr.toString()).not.toBeNull();
      // posix_spawn's child alone makes ~60 sets over the same class and ~60 queries
      expect(Number(m![1]), replay.stderr.toString()).toBeGreaterThan(60);
    }
  }, 120_000);
});
