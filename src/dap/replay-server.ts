// The replay server a debug adapter session talks to: `rewind replay TRACE --port 0
// --once` as a child process. A child rather than in-process because the replay
// engine ptraces and may work for seconds at a time; the adapter must keep answering
// the front end meanwhile (pause, threads). --once makes the server exit when gdb
// disconnects, so gdb's end (or the adapter's) ends the server too: no orphan.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bin/rewind.js', import.meta.url));

export interface ReplayServer {
  host: string;
  port: number;
  pid: number;
  /** resolves with the exit status once the server has exited */
  exited: Promise<number | null>;
  /** SIGKILLs the server if it has not exited */
  kill(): void;
}

export interface ReplayServerOptions {
  trace: string;
  /** the recorded executable with symbols (checked against the trace by the server) */
  symbols?: string;
  /** what the replayed program writes to its stdout and stderr */
  onProgramOutput: (text: string) => void;
  /** rewind's own lines from the server (warnings, errors) */
  onLog: (line: string) => void;
}

/** Starts the server and resolves once it listens; rejects with its error if it exits first. */
export function startReplayServer(opts: ReplayServerOptions): Promise<ReplayServer> {
  const args = [CLI, 'replay', opts.trace, '--port', '0', '--once', ...(opts.symbols ? ['--symbols', opts.symbols] : [])];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => opts.onProgramOutput(text));
  return new Promise((resolve, reject) => {
    let pendingLine = '';
    let lines: string[] = [];
    let listening = false;
    child.on('error', (e) => reject(new Error(`cannot start the replay server: ${e.message}`)));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      const parts = (pendingLine + text).split('\n');
      pendingLine = parts.pop()!;
      for (const line of parts) {
        if (listening) {
          opts.onLog(line);
          continue;
        }
        lines.push(line);
        const m = /^rewind: serving .* on (\S+):(\d+)$/.exec(line);
        if (m) {
          listening = true;
          lines = [];
          resolve({ host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]), pid: child.pid!, exited, kill: () => kill(child) });
        }
      }
    });
    child.on('exit', (code) => {
      if (listening) return;
      const why = [...lines, pendingLine].filter((l) => l.trim()).map((l) => l.replace(/^rewind: (error: )?/, '')).join('; ');
      reject(new Error(why || `the replay server exited (status ${code}) before listening`));
    });
  });
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
