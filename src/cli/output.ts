import * as fs from 'node:fs';

/** Writes all of buf to fd, waiting out EAGAIN on non-blocking pipes. */
export function writeAllSync(fd: number, buf: Buffer): void {
  let done = 0;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (done < buf.length) {
    try {
      done += fs.writeSync(fd, buf, done, buf.length - done);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
}

/** rewind's own failures exit with this status, distinct from a program's usual ones. */
export const EXIT_REWIND_ERROR = 125;

export function fail(message: string): never {
  writeAllSync(2, Buffer.from(`rewind: error: ${message}\n`));
  process.exit(EXIT_REWIND_ERROR);
}

export function notice(message: string): void {
  writeAllSync(2, Buffer.from(`rewind: ${message}\n`));
}

/** The status a shell reports for an outcome. */
export function shellStatus(o: { kind: string; code?: number; signal?: number }): number {
  if (o.kind === 'exited') return o.code ?? 0;
  if (o.kind === 'killed') return 128 + (o.signal ?? 0);
  return EXIT_REWIND_ERROR;
}
