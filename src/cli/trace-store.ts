// Where traces live: $REWIND_TRACE_DIR or ~/.local/share/rewind, one directory per
// recording named PROGRAM-N, and a `latest` link to the newest.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function traceRoot(): string {
  return process.env.REWIND_TRACE_DIR || path.join(os.homedir(), '.local', 'share', 'rewind');
}

export function newTraceDir(program: string): string {
  const root = traceRoot();
  fs.mkdirSync(root, { recursive: true });
  const base = path.basename(program).replace(/[^A-Za-z0-9._-]/g, '_') || 'trace';
  // from after the highest NAME-N there is: one mkdir, not one per earlier recording
  const taken = new RegExp(`^${base.replace(/[.]/g, '\\.')}-(\\d+)$`);
  let next = 0;
  for (const name of fs.readdirSync(root)) {
    const m = taken.exec(name);
    if (m) next = Math.max(next, Number(m[1]) + 1);
  }
  for (let i = next; ; i++) {
    const dir = path.join(root, `${base}-${i}`);
    try {
      fs.mkdirSync(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

export function markLatest(dir: string): void {
  const root = traceRoot();
  if (path.dirname(path.resolve(dir)) !== path.resolve(root)) return;
  // `-o ROOT/NAME` may come before anything made the root
  fs.mkdirSync(root, { recursive: true });
  const link = path.join(root, 'latest');
  const tmp = `${link}.${process.pid}`;
  fs.symlinkSync(path.basename(dir), tmp);
  fs.renameSync(tmp, link);
}

/** TRACE may be a directory path, a name inside the trace root, or absent (latest). */
export function resolveTrace(arg: string | undefined): string {
  const root = traceRoot();
  if (!arg) {
    const latest = path.join(root, 'latest');
    if (!fs.existsSync(latest)) throw new Error(`no traces yet in ${root} (record one with \`rewind record -- PROGRAM\`)`);
    return fs.realpathSync(latest);
  }
  if (fs.existsSync(arg)) return path.resolve(arg);
  const named = path.join(root, arg);
  if (fs.existsSync(named)) return named;
  throw new Error(`no trace at ${arg} (nor ${named})`);
}

export function listTraces(): string[] {
  const root = traceRoot();
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root)
    .filter((name) => name !== 'latest' && fs.existsSync(path.join(root, name, 'meta.json')))
    .map((name) => path.join(root, name));
}
