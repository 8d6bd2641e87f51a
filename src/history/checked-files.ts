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

/**
 * Smaller files are hashed at each replay, and no check of them is kept: hashing 256
 * KiB (~0.15 ms) costs about what keeping its check does (reading the record, an
 * append, and a recorder's carrying it across its link, ~0.3 ms).
 */
const KEPT_FROM = 256n * 1024n;

/** The file at `file` (its stat `st`) was checked as `sha` and has not changed since (never for small files). */
export function checkedBefore(sha: string, st: fs.BigIntStats): boolean {
  if (st.size < KEPT_FROM) return false;
  try {
    return fs.readFileSync(recordOf(sha), 'utf8').split('\n').includes(keyOf(st));
  } catch {
    return false;
  }
}

/** Lines kept in a record before it is rewritten with the last ones. */
const KEPT = 16;

/**
 * Keeps that the file (its stat `st`) holds `sha`: one line per copy of it (a trace on
 * another file system has its own) and per ctime a link left. A line is appended: a
 * file replaced by a rename costs ~0.8 ms on ext4 here (it flushes the new file's
 * data, auto_da_alloc), and appends of a line from recorders and replays in parallel
 * do not mix. Past KEPT lines the record is rewritten with the last ones; an append
 * lost to that rename, or a line read half-written, only means a check made again.
 */
export function rememberChecked(sha: string, st: fs.BigIntStats): void {
  if (st.size < KEPT_FROM) return;
  const file = recordOf(sha);
  const key = keyOf(st);
  try {
    let lines: string[] = [];
    try {
      lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    } catch {
      // the first copy checked
    }
    if (lines.includes(key)) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (lines.length < KEPT) {
      fs.appendFileSync(file, `${key}\n`);
      return;
    }
    lines = [...lines.slice(-(KEPT / 2 - 1)), key];
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, lines.join('\n') + '\n');
    fs.renameSync(tmp, file);
  } catch {
    // a read-only store: checked again next time
  }
}

/**
 * The check of store object `sha` (at `object`) as it is before this recorder links it
 * into a trace, if a replay made one or this recorder just stored it (`copiedAs`: its
 * stat then; its bytes were hashed as they were copied): the link changes the inode's
 * ctime, so that the first replay of every new trace hashed its images again (~2 ms
 * for /bin/true's libc, ~30 ms for make's compilers). carryCheckAcrossLink keeps the
 * check for the ctime the link leaves, when the link was the only change (same inode,
 * one more link).
 */
export function checkBeforeLink(sha: string, object: string, copiedAs?: fs.BigIntStats): { sha: string; st: fs.BigIntStats } | undefined {
  if (copiedAs) return { sha, st: copiedAs };
  try {
    const st = fs.statSync(object, { bigint: true });
    return checkedBefore(sha, st) ? { sha, st } : undefined;
  } catch {
    return undefined;
  }
}

/** See checkBeforeLink; `linked` is where the object was linked (a copy has no check to carry). */
export function carryCheckAcrossLink(checked: { sha: string; st: fs.BigIntStats } | undefined, linked: string): void {
  if (!checked) return;
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(linked, { bigint: true });
  } catch {
    return;
  }
  const before = checked.st;
  if (st.dev === before.dev && st.ino === before.ino && st.size === before.size && st.mtimeNs === before.mtimeNs
    && st.nlink === before.nlink + 1n) {
    rememberChecked(checked.sha, st);
  }
}
