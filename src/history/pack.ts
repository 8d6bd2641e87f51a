// `rewind pack`: makes a trace self-contained and compact, for moving to another
// machine (docs/trace-format.md, "Packed traces"). In place, as rr's pack is:
// every stored file becomes the trace's own (no hard link shared with the file
// store or other traces) and, where brotli gains, files/<sha>.br instead of
// files/<sha>. Files are already stored once per content (their name is their
// sha256), so the trace holds no duplicates.
//
// Nothing is changed until every file has been read and checked against its hash:
// a trace with a damaged file is refused as it is. Each file is then replaced by
// writing the new one under a temporary name, renaming it into place and only then
// removing the old name, so a pack that is killed leaves a trace that replays (a
// file present in both forms is read uncompressed) and can be packed again.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { brotliCompress } from '../native/codecs.js';
import { TraceError } from './errors.js';
import { FILES_DIR, PACKED_SUFFIX, SHA256_RE } from './container-format.js';
import { TraceReader } from './trace-reader.js';

/**
 * Quality 5 with a 16 MiB window: libc compresses to 42% in ~0.1 s; quality 9
 * gains 1% more for four times the time, 11 another 11% for a hundred times.
 */
function compress(data: Buffer): Buffer {
  return brotliCompress(data, 5, 24);
}

/** Below this ratio a file is kept uncompressed (compressed data, tiny files). */
const WORTH = 0.9;

export interface PackResult {
  files: number;
  /** files now stored compressed */
  compressed: number;
  /** bytes of the files directory before and after (a hard link counts whole) */
  before: number;
  after: number;
}

interface Planned {
  sha: string;
  /** the names it has now in files/ (<sha>, <sha>.br or both) */
  names: string[];
  /** the name it will have, and the temporary file that holds its new bytes */
  keep: string;
  tmp: string;
  size: number;
}

function unsupported(dir: string, name: string): TraceError {
  return new TraceError('CORRUPT', `trace is corrupt: ${FILES_DIR}/${name} is not a stored file's name: ${dir}`);
}

let tmpCounter = 0;

/** Packs the trace in `dir`; see the file's comment. Throws a TraceError, changing nothing, for a damaged trace. */
export function packTrace(dir: string): PackResult {
  // Opening checks that this is a trace, of a version this rewind reads.
  const reader = TraceReader.open(dir);
  const filesDir = path.join(dir, FILES_DIR);
  const plans = new Map<string, Planned>();
  let before = 0;
  try {
    // First every file is checked and its new form written under a temporary name.
    for (const name of fs.readdirSync(filesDir).sort()) {
      // a temporary name left by a writer that was killed is not part of the trace
      if (name.includes('.tmp-')) continue;
      const sha = name.endsWith(PACKED_SUFFIX) ? name.slice(0, -PACKED_SUFFIX.length) : name;
      if (!SHA256_RE.test(sha)) throw unsupported(dir, name);
      before += fs.statSync(path.join(filesDir, name)).size;
      const known = plans.get(sha);
      if (known) {
        known.names.push(name);
        continue;
      }
      const content = reader.file(sha);  // checked against its hash
      const squeezed = compress(content);
      const worth = squeezed.length < WORTH * content.length;
      const keep = path.join(filesDir, worth ? `${sha}${PACKED_SUFFIX}` : sha);
      const plan: Planned = { sha, names: [name], keep, tmp: `${keep}.tmp-${process.pid}-${tmpCounter++}`, size: worth ? squeezed.length : content.length };
      plans.set(sha, plan);
      fs.writeFileSync(plan.tmp, worth ? squeezed : content, { mode: 0o444 });
    }
  } catch (e) {
    for (const p of plans.values()) fs.rmSync(p.tmp, { force: true });
    throw e;
  } finally {
    reader.close();
  }
  // Then each takes its place (the trace's own inode, not a link shared with the
  // store), and only after that are its other names removed.
  let after = 0;
  let compressed = 0;
  for (const p of plans.values()) {
    fs.renameSync(p.tmp, p.keep);
    for (const name of p.names) if (path.join(filesDir, name) !== p.keep) fs.rmSync(path.join(filesDir, name), { force: true });
    after += p.size;
    if (p.keep.endsWith(PACKED_SUFFIX)) compressed++;
  }
  return { files: plans.size, compressed, before, after };
}
