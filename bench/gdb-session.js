// One gdb session against a fresh `rewind replay --once` server, for the reverse
// benchmarks (bench/reverse.js, bench/reverse-threads.js): gdb runs in batch mode, the
// `timed` commands each wrapped in gdb's python clock. The server's stderr goes to a
// file, not a pipe: gdb runs synchronously, so nothing would drain a pipe meanwhile,
// and a server that logged more than it holds (REWIND_TRACE_RUNS) would wait on it
// while gdb waited on the server (the hang tests/integration/gdb-support.ts avoids).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Serves `trace` with `cli`, runs gdb with `gdbOptions` before `target remote`, then
 * `setup`, then `timed` ([label, command] pairs), then `after`, against `exe` if given.
 * Returns the times of the timed commands (s, by label), gdb's output and the server's log.
 */
export async function gdbSession({ cli, trace, exe, gdbOptions = [], setup = [], timed, after = [] }) {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rewind-bench-server-'));
  const logPath = path.join(logDir, 'stderr');
  const log = fs.openSync(logPath, 'w');
  const server = spawn(process.execPath, [cli, 'replay', trace, '--port', '0', '--once'], { stdio: ['ignore', 'ignore', log] });
  fs.closeSync(log);
  const serverLog = () => fs.readFileSync(logPath, 'utf8');
  try {
    const port = await new Promise((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        const m = /127\.0\.0\.1:(\d+)/.exec(serverLog());
        if (m || Date.now() - started > 20000) {
          clearInterval(poll);
          if (m) resolve(Number(m[1]));
          else reject(new Error(`no port:\n${serverLog()}`));
        }
      }, 20);
    });
    const args = ['-batch', '-nx', ...gdbOptions, '-ex', 'set pagination off', '-ex', `target remote 127.0.0.1:${port}`];
    for (const c of setup) args.push('-ex', c);
    for (const [label, c] of timed) {
      args.push('-ex', 'python import time; _t = time.time()', '-ex', c, '-ex', `python print("TIME ${label} %.4f" % (time.time() - _t))`);
    }
    for (const c of after) args.push('-ex', c);
    const r = spawnSync('gdb', exe ? [...args, exe] : args, { encoding: 'utf8', timeout: 1_200_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = `${r.stdout}\n${r.stderr}`;
    const times = {};
    for (const m of out.matchAll(/^TIME (.+) ([\d.]+)$/gm)) times[m[1]] = Number(m[2]);
    return { times, out, server: serverLog() };
  } finally {
    server.kill('SIGKILL');
    fs.rmSync(logDir, { recursive: true, force: true });
  }
}
