// The preemption study's prototypes (bench/preemption/, docs/preemption.md), run for
// real: a SIGALRM that stops a busy loop is recorded where it arrived and delivered at
// exactly that point in a replay (same registers, same loop counter, same output); a
// changed name is reported as not found, never replaced by another point; and the
// fingerprint measurement tells the hard case (`count++` in memory) from a spin whose
// state really repeats. Needs gcc and Zydis (Debian: libzydis-dev), installed through
// apt when missing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
const study = path.join(root, 'bench/preemption');
let out = '';

function ensureZydis(): void {
  if (existsSync('/usr/include/Zydis/Zydis.h')) return;
  const apt = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libzydis-dev'], {
    encoding: 'utf8',
  });
  if (apt.status !== 0 || !existsSync('/usr/include/Zydis/Zydis.h'))
    throw new Error(`preemption prototype: Zydis is missing and apt-get install libzydis-dev failed: ${apt.stderr.slice(-500)}`);
}

interface Run { status: number | null; stdout: string; report: Record<string, unknown> }

/** Runs a prototype; its report is the JSON line after "sigpoint " (or the whole stdout for fpstep). */
function run(cmd: string, args: string[], env: Record<string, string> = {}): Run {
  // A guard against a hang, not a timing assertion.
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 150_000, env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  const line = r.stderr.split('\n').find((l) => l.startsWith('sigpoint {'));
  const report = line ? JSON.parse(line.slice('sigpoint '.length)) : r.stdout.trim() ? JSON.parse(r.stdout.trim()) : {};
  return { status: r.status, stdout: r.stdout, report };
}

function countAddress(): string {
  const nm = spawnSync('nm', [path.join(out, 'loops')], { encoding: 'utf8' });
  const line = nm.stdout.split('\n').find((l) => / count$/.test(l.trim()));
  if (!line) throw new Error('preemption prototype: no symbol count in loops');
  return line.trim().split(/\s+/)[0];
}

beforeAll(() => {
  ensureZydis();
  out = mkdtempSync(path.join(os.tmpdir(), 'rewind-preemption-'));
  const b = spawnSync('sh', [path.join(study, 'build.sh'), out], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`preemption prototype: build failed: ${b.stderr}`);
});

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('an asynchronous signal named without a counter (sigpoint)', () => {
  // alarmcopy: the signal mostly lands in memcpy, where the count is out of sight; the
  // recorder moves the point out to the caller's loop (steering) before naming it.
  for (const mode of ['alarm', 'alarmspin', 'alarmcopy']) {
    it(`${mode}: the replay delivers SIGALRM at the recorded point`, () => {
      const name = path.join(out, `${mode}.name`);
      const env = { SIGPOINT_WATCH: countAddress() };
      const rec = run(path.join(out, 'sigpoint'), ['record', name, '--', path.join(out, 'loops'), mode, '20000'], env);
      expect(rec.status).toBe(0);
      expect(rec.report.recorded).toBe(true);
      expect(rec.stdout).toMatch(new RegExp(`^${mode} \\d+\\n$`));
      if (mode !== 'alarmspin') expect(Number(rec.report.watch)).toBeGreaterThan(0);

      const rep = run(path.join(out, 'sigpoint'), ['replay', name, '--', path.join(out, 'loops'), mode, '20000'], env);
      expect(rep.report.found).toBe(true);
      expect(rep.status).toBe(0);
      // The same point: pc, every register, the exact state, the loop's counter.
      for (const key of ['rip', 'regs_hash', 'state_hash', 'watch']) expect(rep.report[key]).toBe(rec.report[key]);
      // The same future: the handler ran there, the loop printed the recorded count.
      expect(rep.stdout).toBe(rec.stdout);
    });
  }

  it('a name whose state never comes is reported, not replaced by a near point', () => {
    for (const mode of ['alarmspin', 'alarm']) {
      const name = path.join(out, `${mode}-changed.name`);
      const rec = run(path.join(out, 'sigpoint'), ['record', name, '--', path.join(out, 'loops'), mode, '5000']);
      expect(rec.status).toBe(0);
      // Flip a byte of the recorded state hash (after magic, event count, registers).
      const bytes = readFileSync(name);
      bytes[8 + 8 + 27 * 8] ^= 0xff;
      writeFileSync(name, bytes);
      const rep = run(path.join(out, 'sigpoint'), ['replay', name, '--', path.join(out, 'loops'), mode, '5000']);
      expect(rep.status).toBe(3);
      expect(rep.report.found).toBe(false);
      // The spin's state repeats at the pc: provably never. The counting loop's does not:
      // it is given up after its CPU-time budget.
      expect(rep.report.why).toMatch(mode === 'alarmspin' ? /cycles/ : /budget/);
      expect(rep.stdout).toBe('');
    }
  });

  it('refuses a file that is not a recorded point', () => {
    const bogus = path.join(out, 'bogus.name');
    writeFileSync(bogus, 'not a name');
    const rep = spawnSync(path.join(out, 'sigpoint'), ['replay', bogus, '--', path.join(out, 'loops'), 'alarm'], { encoding: 'utf8' });
    expect(rep.status).toBe(2);
    expect(rep.stderr).toMatch(/not a recorded point/);
  });
});

describe('fingerprints of the moments of a loop (fpstep)', () => {
  it('registers and stack repeat in the count++ loop; its memory operands tell the moments apart', () => {
    const r = run(path.join(out, 'fpstep'), ['-a', '13', '-n', '3000', '--', path.join(out, 'loops'), 'atomic']);
    expect(r.status).toBe(0);
    const f = r.report as Record<string, { repeats: number; ambiguous: number }> & { steps: number; state_repeats: number };
    expect(f.steps).toBe(3000);
    expect(f.state_repeats).toBe(0);
    // Stepping starts when signal()'s rt_sigaction (13) returns: a few hundred steps
    // to reach the loop, then the loop.
    expect(f.F0.ambiguous).toBeGreaterThan(1000);
    expect(f.F1.ambiguous).toBeGreaterThan(1000);
    expect(f.F2.ambiguous).toBe(0);
  });

  it('a spin on a flag repeats its whole state: every repeat is benign', () => {
    const r = run(path.join(out, 'fpstep'), ['-a', '13', '-n', '3000', '--', path.join(out, 'loops'), 'spin']);
    const f = r.report as Record<string, { repeats: number; ambiguous: number }> & { state_repeats: number };
    expect(f.state_repeats).toBeGreaterThan(1000);
    for (const c of ['F0', 'F1', 'F2']) expect(f[c].ambiguous).toBe(0);
  });
});
