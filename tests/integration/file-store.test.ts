// The machine's file store (src/history/file-store.ts) and `rewind pack`
// (src/history/pack.ts), with the real CLI: libraries stored once and hard-linked
// into every trace, traces that outlive the store, a changed store file refused,
// and a packed trace that replays, and debugs with gdb, after it was moved away
// from the store that had its files. The docs' own commands for moving a trace
// are run as written.
import { chmodSync, closeSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT, describeRun, programPath, rewind, runNative, tempDir } from '../helpers.js';
import { afterMark, debugReplay, gdbNative } from './gdb-support.js';

/** `rewind record -o DIR -- CMD` with its own file store; returns the trace. */
function recordWith(store: string, cmd: string[], extra: string[] = []): { trace: string; stdout: string; status: number | null } {
  const root = tempDir('rewind-store-');
  const trace = path.join(root, 'trace');
  const r = rewind(['record', ...extra, '-o', trace, '--', ...cmd], { traceRoot: root, env: { REWIND_FILE_STORE: store } });
  expect(r.stderr.toString(), describeRun(r)).toContain(`rewind: trace saved to ${trace}`);
  expect(r.status, describeRun(r)).toBe(runNative(cmd).status);
  return { trace, stdout: r.stdout.toString(), status: r.status };
}

function check(trace: string, store: string) {
  return rewind(['replay', '--check', trace], { env: { REWIND_FILE_STORE: store } });
}

/** sha256 of the libc `program` loads (its name in files/ and in the store). */
function libcSha(program: string): string {
  const ldd = runNative(['ldd', program]).stdout.toString();
  const m = /libc\.so\.6 => (\S+)/.exec(ldd);
  if (!m) throw new Error(`ldd names no libc for ${program}:\n${ldd}`);
  return createHash('sha256').update(readFileSync(realpathSync(m[1]))).digest('hex');
}

function filesOf(trace: string): string[] {
  return readdirSync(path.join(trace, 'files')).sort();
}

describe('the file store', () => {
  it('stores a library once; every trace hard-links it and replays', () => {
    const store = tempDir('rewind-filestore-');
    const hello = programPath('hello');
    const run = runNative([hello]);
    const native = run.stdout.toString();
    const sha = libcSha(hello);
    const object = path.join(store, 'objects', sha);
    const a = recordWith(store, [hello]);
    expect(a.stdout).toBe(native);
    const stored = statSync(object).ino;
    // the store knows libc by its identity now
    const known = readdirSync(path.join(store, 'known')).map((k) => readlinkSync(path.join(store, 'known', k)));
    expect(known).toContain(sha);
    const b = recordWith(store, [hello]);
    const [inA, inB, inStore] = [path.join(a.trace, 'files', sha), path.join(b.trace, 'files', sha), object].map((f) => statSync(f));
    expect(inA.ino).toBe(inStore.ino);
    expect(inB.ino).toBe(inStore.ino);
    expect(inStore.nlink).toBe(3);
    // linked, not stored again (that would have renamed a new inode into place)
    expect(inStore.ino).toBe(stored);
    // rewind ls counts what the trace holds of its own, not the shared libraries
    const ls = rewind(['ls'], { traceRoot: path.dirname(a.trace) });
    expect(ls.stdout.toString()).toMatch(/^trace +\S+ \S+ +\d+(\.\d)? KiB /m);
    for (const t of [a.trace, b.trace]) {
      const r = check(t, store);
      expect(r.status, describeRun(r)).toBe(run.status);
      expect(r.stdout.toString()).toBe(native);
    }
  });

  it('a store on another file system is copied from, not linked to', () => {
    // /dev/shm is a tmpfs of its own: the trace in the temp dir cannot hard-link into it
    const store = path.join(mkdtempSync('/dev/shm/rewind-filestore-'), 'store');
    try {
      const hello = programPath('hello');
      const { trace, stdout, status } = recordWith(store, [hello]);
      expect(statSync(store).dev).not.toBe(statSync(trace).dev);
      const sha = libcSha(hello);
      expect(statSync(path.join(trace, 'files', sha)).nlink).toBe(1);
      expect(statSync(path.join(store, 'objects', sha)).nlink).toBe(1);
      const r = check(trace, store);
      expect(r.status, describeRun(r)).toBe(status);
      expect(r.stdout.toString()).toBe(stdout);
    } finally {
      rmSync(path.dirname(store), { recursive: true, force: true });
    }
  });

  it('rewind store --prune removes what no trace links; traces keep their files, even with the store removed', () => {
    const store = tempDir('rewind-filestore-');
    const hello = programPath('hello');
    const demo = programPath('gdbdemo');
    const kept = recordWith(store, [hello]);
    const gone = recordWith(store, [demo]);
    const demoSha = createHash('sha256').update(readFileSync(demo)).digest('hex');
    const libc = libcSha(hello);
    rmSync(gone.trace, { recursive: true, force: true });
    const p = rewind(['store', '--prune'], { env: { REWIND_FILE_STORE: store } });
    expect(p.status, describeRun(p)).toBe(0);
    expect(p.stdout.toString()).toMatch(/^removed 1 files \([\d.]+ MiB\) that no trace links\n/);
    expect(p.stdout.toString()).toContain(`${store}: `);
    expect(existsSync(path.join(store, 'objects', demoSha))).toBe(false);
    expect(existsSync(path.join(store, 'objects', libc))).toBe(true);
    const afterPrune = check(kept.trace, store);
    expect(afterPrune.status, describeRun(afterPrune)).toBe(kept.status);
    expect(afterPrune.stdout.toString()).toBe(kept.stdout);
    rmSync(store, { recursive: true, force: true });
    const r = check(kept.trace, store);
    expect(r.status, describeRun(r)).toBe(kept.status);
    expect(r.stdout.toString()).toBe(kept.stdout);
  });

  it('a check of a stored library (by the record that stored it, or a replay) outlives the next record\'s link to it, and a change after that is still caught', () => {
    const store = tempDir('rewind-filestore-');
    const hello = programPath('hello');
    const sha = libcSha(hello);
    const object = path.join(store, 'objects', sha);
    const checks = path.join(store, 'checked', sha);
    // the key src/history/checked-files.ts keeps a check under
    const keyNow = () => {
      const st = statSync(object, { bigint: true });
      return `${st.dev}:${st.ino}:${st.size}:${st.ctimeNs}`;
    };
    const a = recordWith(store, [hello]);  // stores libc: hashed as it was copied
    expect(readFileSync(checks, 'utf8').split('\n')).toContain(keyNow());
    expect(check(a.trace, store).status).toBe(a.status);
    const b = recordWith(store, [hello]);  // its link moved libc's ctime: the check moved with it
    expect(readFileSync(checks, 'utf8').split('\n')).toContain(keyNow());
    expect(check(b.trace, store).status).toBe(b.status);

    // changed in place afterwards (size and mtime kept): the ctime moved, so checked again, and refused
    chmodSync(object, 0o644);
    const fd = openSync(object, 'r+');
    writeSync(fd, Buffer.from('XX'), 0, 2, 1000);
    closeSync(fd);
    utimesSync(object, 0, 0);
    expect(readFileSync(checks, 'utf8').split('\n')).not.toContain(keyNow());
    const r = check(b.trace, store);
    expect(r.status).toBe(125);
    expect(r.stderr.toString()).toContain(`trace file files/${sha} does not match its hash`);
  });

  it('a store file changed in place is refused: by record when its size changed, by replay when only its bytes did', () => {
    const store = tempDir('rewind-filestore-');
    const hello = programPath('hello');
    const { trace } = recordWith(store, [hello]);
    const sha = libcSha(hello);
    const object = path.join(store, 'objects', sha);

    // Bytes changed, size and time kept (as a deliberate edit could): the next record
    // cannot tell without reading it, but every replay of a trace holding it refuses.
    chmodSync(object, 0o644);
    const fd = openSync(object, 'r+');
    writeSync(fd, Buffer.from('XX'), 0, 2, 1000);
    closeSync(fd);
    utimesSync(object, 0, 0);
    const r = check(trace, store);
    expect(r.status).toBe(125);
    expect(r.stderr.toString()).toMatch(new RegExp(`trace is corrupt: trace file files/${sha} does not match its hash \\(it is one of 2 hard links to a file shared with the file store and other traces, and was changed in place after it was stored\\)`));

    // Appended to: the size shows it, and record refuses to link it into a new trace.
    const fd2 = openSync(object, 'a');
    writeSync(fd2, Buffer.from('more'));
    closeSync(fd2);
    const root = tempDir('rewind-store-');
    const rec = rewind(['record', '-o', path.join(root, 'trace'), '--', hello], { traceRoot: root, env: { REWIND_FILE_STORE: store } });
    expect(rec.status).toBe(125);
    expect(rec.stderr.toString()).toMatch(/the file store's copy of \/\S*libc\.so\.6 /);
    expect(rec.stderr.toString()).toContain(`(${object}) has changed since it was stored`);
    expect(rec.stderr.toString()).toContain(`Remove it (rm ${object}) and record again`);

    // Removed as told, the store takes a fresh copy and the next trace replays.
    rmSync(object);
    const again = recordWith(store, [hello]);
    const ok = check(again.trace, store);
    expect(ok.status, describeRun(ok)).toBe(again.status);
    expect(statSync(object).nlink).toBe(2);
  });
});

describe('rewind pack', () => {
  it('makes every file the trace\'s own and compressed; the moved trace replays without the store', () => {
    const store = tempDir('rewind-filestore-');
    const hello = programPath('hello');
    const { trace, stdout, status } = recordWith(store, [hello]);
    const shared = filesOf(trace).filter((f) => statSync(path.join(trace, 'files', f)).nlink > 1);
    expect(shared.length).toBeGreaterThan(0);
    const p = rewind(['pack', trace], {});
    expect(p.status, describeRun(p)).toBe(0);
    expect(p.stderr.toString()).toMatch(/packed .*: \d+ files \(\d+ compressed\), [\d.]+ MiB -> [\d.]+ MiB; it holds no link outside itself/);
    const files = filesOf(trace);
    for (const f of files) expect(statSync(path.join(trace, 'files', f)).nlink, f).toBe(1);
    expect(files.filter((f) => f.endsWith('.br')).length).toBeGreaterThan(0);
    // no content twice: one name per sha
    const shas = files.map((f) => f.replace(/\.br$/, ''));
    expect(new Set(shas).size).toBe(shas.length);
    // the store still has its own copies, untouched
    for (const f of shared) expect(statSync(path.join(store, 'objects', f)).nlink).toBe(1);

    const moved = path.join(tempDir('rewind-moved-'), 'trace');
    renameSync(trace, moved);
    rmSync(store, { recursive: true, force: true });
    const empty = tempDir('rewind-nostore-');
    const r = check(moved, path.join(empty, 'store'));
    expect(r.status, describeRun(r)).toBe(status);
    expect(r.stdout.toString()).toBe(stdout);
    // packing again changes nothing that matters
    const again = rewind(['pack', moved], {});
    expect(again.status, describeRun(again)).toBe(0);
    expect(filesOf(moved)).toEqual(files);
  });

  it('a damaged trace is refused and left as it was', () => {
    const store = tempDir('rewind-filestore-');
    const { trace } = recordWith(store, [programPath('hello')]);
    // a file of the trace's own (not shared with the store): the stack at exec
    const own = filesOf(trace).find((f) => statSync(path.join(trace, 'files', f)).nlink === 1)!;
    writeFileSync(path.join(trace, 'files', own), 'damaged');
    const before = filesOf(trace);
    const p = rewind(['pack', trace], {});
    expect(p.status).toBe(125);
    expect(p.stderr.toString()).toContain(`trace is corrupt: trace file files/${own} does not match its hash`);
    expect(filesOf(trace)).toEqual(before);
    const notTrace = rewind(['pack', tempDir('rewind-empty-')], {});
    expect(notTrace.status).toBe(125);
    expect(notTrace.stderr.toString()).toMatch(/rewind: error: not a rewind trace/);
  });

  it('gdb debugs a packed, moved trace as it debugs the program natively', async () => {
    const store = tempDir('rewind-filestore-');
    const demo = programPath('gdbdemo');
    const { trace } = recordWith(store, [demo], ['--no-syscallbuf']);
    expect(rewind(['pack', trace], {}).status).toBe(0);
    const moved = path.join(tempDir('rewind-moved-'), 'trace');
    cpSync(trace, moved, { recursive: true });
    rmSync(trace, { recursive: true, force: true });
    rmSync(store, { recursive: true, force: true });
    const commands = ['break square', 'continue', 'bt', 'print v', 'print origin', 'print greeting', 'finish', 'info sharedlibrary'];
    const native = afterMark(gdbNative(demo, commands));
    const { gdb, server } = await debugReplay(moved, commands);
    const replay = afterMark(gdb);
    expect(replay, `server stderr:\n${server}`).toBe(native);
    expect(replay).toContain('libc.so.6');
  });
});

describe('the docs\' commands for moving a trace, as written', () => {
  it('docs/usage.md: record, pack, tar; untar elsewhere and replay', () => {
    const usage = readFileSync(path.join(ROOT, 'docs', 'usage.md'), 'utf8');
    const section = usage.slice(usage.indexOf('## Moving a trace to another machine'));
    const start = section.indexOf('```sh\n') + 6;
    const lines = section.slice(start, section.indexOf('```', start)).trim().split('\n');
    const there = lines.findIndex((l) => l.includes('# on the other machine'));
    expect(there, lines.join('\n')).toBeGreaterThan(0);
    // `rewind` on PATH, as after `npm link`
    const bin = tempDir('rewind-bin-');
    writeFileSync(path.join(bin, 'rewind'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
    const here = tempDir('rewind-here-');
    const store = tempDir('rewind-filestore-');
    const env = { PATH: `${bin}:${process.env.PATH}`, REWIND_FILE_STORE: store, REWIND_TRACE_DIR: path.join(here, 'traces') };
    const sh = (cwd: string, script: string[], extra: Record<string, string> = {}) =>
      runNative(['sh', '-c', `set -e\n${script.join('\n')}`], { cwd, env: { ...env, ...extra } });
    const first = sh(here, lines.slice(0, there));
    expect(first.status, describeRun(first)).toBe(0);
    const tarball = readdirSync(here).find((f) => f.endsWith('.tar'));
    expect(tarball, readdirSync(here).join(' ')).toBeDefined();
    // the other machine: another directory, and no store that knows the files
    const other = tempDir('rewind-there-');
    renameSync(path.join(here, tarball!), path.join(other, tarball!));
    rmSync(store, { recursive: true, force: true });
    const second = sh(other, lines.slice(there), { REWIND_FILE_STORE: path.join(other, 'no-store') });
    expect(second.status, describeRun(second)).toBe(0);
    expect(second.stdout.toString()).toBe(first.stdout.toString());
    expect(existsSync(path.join(other, 'no-store', 'objects'))).toBe(false);
  });
});
