// Files of traces already checked against their content hash on this machine, so
// that a replay need not read and hash them again: a replay of `make` read and
// hashed cc1, as, ld and their libraries (~40 MB) at every start, ~70 ms. A check is
// kept by the file's device, inode, size and change time (ctime, which no write and
// no utimes can leave as it was), in `checked/<sha>` next to the file store; any
// change to the file's bytes changes its ctime, and the next replay checks it again
// (tests/integration/file-store.test.ts edits a stored file in place). A check that
// cannot be kept is made each time, as before.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileStoreLocation } from './file-store.js';

function keyOf(st: fs.BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.ctimeNs}`;
}

function recordOf(sha: string): string {
  return path.join(fileStoreLocation(), 'checked', sha);
}

/** The file at `file` (its stat `st`) was checked as `sha` and has not changed since. */
export function checkedBefore(sha: string, st: fs.BigIntStats): boolean {
  try {
    return fs.readFileSync(recordOf(sha), 'utf8').split('\n').includes(keyOf(st));
  } catch {
    return false;
  }
}

/** Keeps that the file (its stat `st`) holds `sha`: one line per copy of it (a trace on another file system has its own). */
export function rememberChecked(sha: string, st: fs.BigIntStats): void {
  const file = recordOf(sha);
  try {
    let lines: string[] = [];
    try {
      lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    } catch {
      // the first copy checked
    }
    lines = [...lines.slice(-15), keyOf(st)];
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, lines.join('\n') + '\n');
    fs.renameSync(tmp, file);
  } catch {
    // a read-only store: checked again next time
  }
}
