// Helpers for the browser tests of `rewind ui`: Debian's chromium (installed through
// apt when it is missing, as .ci/run does; puppeteer-core downloads no browser),
// and `rewind ui TRACE` as a child process whose URL is read from its stderr.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { CLI } from '../helpers.js';

function onPath(tool: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

let found: string | undefined;

/** The chromium binary; installs Debian's chromium through apt when it is not on PATH. */
export function chromiumBinary(): string {
  found ??= onPath('chromium');
  if (found) return found;
  const apt = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], {
    encoding: 'utf8', timeout: 600_000,
  });
  found = onPath('chromium');
  if (!found) {
    throw new Error(
      'rewind ui tests: `chromium` is not on PATH, and `apt-get install chromium` did not provide it ' +
        `(exit ${apt.status}): ${(apt.stderr || apt.stdout || '').trim().slice(-500)}`,
    );
  }
  return found;
}

export interface UiProcess {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
  /** SIGINT (the way a user stops it), then waits for the exit */
  stop(): Promise<number | null>;
}

/** Starts `rewind ui TRACE --port 0` and resolves with the URL it prints. */
export function startUi(trace: string): Promise<UiProcess> {
  const child = spawn(process.execPath, [CLI, 'ui', trace, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /is at (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(err);
      if (m) {
        resolve({
          url: m[1], child, exited, stderr: () => err,
          stop: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
            return exited;
          },
        });
      }
    });
    child.on('exit', (code) => reject(new Error(`rewind ui exited (status ${code}) before printing its URL:\n${err}`)));
  });
}
