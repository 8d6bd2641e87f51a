// The machine's store of mapped files, shared by the traces recorded on it
// (docs/trace-format.md, "The file store"). Every trace holds the executable, ld.so
// and each library it maps; stored in each trace, libc alone costs 2 MB and a copy
// and a sha256 per recording. Here each content is kept once, as objects/<sha256>,
// and a trace's files/<sha256> is a hard link to it (a copy where the file system
// cannot link), so a trace never depends on the store: pruning it, or removing it
// whole, loses no trace anything.
//
// A file is known by its identity: (device, inode, size, mtime, ctime) name its
// content in known/, so a library recorded before is neither read nor hashed again
// (the same trust the recorder already gave identities within one recording; a file
// rewritten in place without its times changing would be missed, as before).
//
// Integrity: objects are written read-only with their mtime set to STORE_MTIME and
// are never written again, so a changed size or mtime shows a store object changed
// in place after it was stored. Such an object is refused with a message that says
// what to remove; a change that kept both is caught by the reader, which checks every
// file's sha256 the first time a replay reads it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256 } from '../native/codecs.js';
import { SHA256_RE } from './container-format.js';

/** The mtime every object is given when stored (seconds since the epoch). */
export const STORE_MTIME = 0;

export class FileStoreError extends Error {}

let tmpCounter = 0;
function tmpName(target: string): string {
  return `${target}.tmp-${process.pid}-${tmpCounter++}`;
}

/** $REWIND_FILE_STORE, else $XDG_CACHE_HOME/rewind, else ~/.cache/rewind. */
export function fileStoreLocation(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REWIND_FILE_STORE) return path.resolve(env.REWIND_FILE_STORE);
  const cache = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(cache, 'rewind');
}

/** The file's own path, for messages: the recorder reads mapped files through /proc/PID/fd/N. */
function shownPath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}

function identityKey(st: fs.BigIntStats): string {
  return `${st.dev}-${st.ino}-${st.size}-${st.mtimeNs}-${st.ctimeNs}`;
}

/** Copies `from` to `to` while hashing it; returns the sha256 of the bytes copied. */
export function copyHashing(from: string, to: string): string {
  const hash = sha256();
  const src = fs.openSync(from, 'r');
  let dst: number | undefined;
  try {
    dst = fs.openSync(to, 'wx', 0o644);
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(src, buf, 0, buf.length, null)) > 0; ) {
      hash.update(buf.subarray(0, n));
      for (let done = 0; done < n; ) done += fs.writeSync(dst, buf, done, n - done);
    }
  } finally {
    fs.closeSync(src);
    if (dst !== undefined) fs.closeSync(dst);
  }
  return hash.digest();
}

export class FileStore {
  readonly objects: string;
  private readonly known: string;

  private constructor(readonly dir: string) {
    this.objects = path.join(dir, 'objects');
    this.known = path.join(dir, 'known');
  }

  /** The store at `dir` (default: fileStoreLocation()), created if need be; undefined if it cannot be. */
  static open(dir = fileStoreLocation()): FileStore | undefined {
    const store = new FileStore(dir);
    try {
      fs.mkdirSync(store.objects, { recursive: true });
      fs.mkdirSync(store.known, { recursive: true });
      fs.accessSync(store.objects, fs.constants.W_OK);
      fs.accessSync(store.known, fs.constants.W_OK);
    } catch {
      return undefined;
    }
    return store;
  }

  objectPath(sha: string): string {
    if (!SHA256_RE.test(sha)) throw new FileStoreError(`${JSON.stringify(sha)} is not a file hash`);
    return path.join(this.objects, sha);
  }

  /**
   * The sha256 of `file`, whose stat is `st`: known from an earlier recording by the
   * file's identity, or copied into the store now (read and hashed once; `copiedAs`
   * is then the new object's stat, its bytes known to be `sha`).
   */
  add(file: string, st: fs.BigIntStats): { sha: string; copiedAs?: fs.BigIntStats } {
    const key = path.join(this.known, identityKey(st));
    let sha: string | undefined;
    try {
      sha = fs.readlinkSync(key);
    } catch {
      // not known yet
    }
    if (sha !== undefined && SHA256_RE.test(sha)) {
      const obj = this.objectPath(sha);
      let ost: fs.Stats | undefined;
      try {
        ost = fs.statSync(obj);
      } catch {
        // pruned: stored again below
      }
      if (ost) {
        if (ost.size !== Number(st.size) || Math.floor(ost.mtimeMs / 1000) !== STORE_MTIME) {
          throw new FileStoreError(`the file store's copy of ${shownPath(file)} (${obj}) has changed since it was stored `
            + `(${ost.size !== Number(st.size) ? `${ost.size} bytes, not ${st.size}` : 'its modification time moved'}); `
            + `traces that hold it will be refused at replay. Remove it (rm ${obj}) and record again`);
        }
        return { sha };
      }
    }
    sha = this.storeCopy(file);
    const copiedAs = fs.statSync(this.objectPath(sha), { bigint: true });
    const tmp = tmpName(key);
    fs.symlinkSync(sha, tmp);
    fs.renameSync(tmp, key);
    return { sha, copiedAs };
  }

  /** Copies `file` into objects/<sha>, read-only, at STORE_MTIME; returns the sha. */
  private storeCopy(file: string): string {
    // Another recorder may have stored the same content meanwhile: the same bytes.
    return this.publish((tmp) => copyHashing(file, tmp));
  }

  /** Stores `content`, known to hash to `sha`, unless the store has it; returns its path. */
  addContent(content: Buffer, sha: string): string {
    const obj = this.objectPath(sha);
    if (fs.existsSync(obj)) return obj;
    this.publish((tmp) => {
      fs.writeFileSync(tmp, content);
      return sha;
    });
    return obj;
  }

  /**
   * Makes a new object: `fill` writes it to a temporary file and returns its sha; it
   * becomes objects/<sha>, read-only, at STORE_MTIME, by a rename, so that no reader
   * ever sees a partial object. Returns the sha.
   */
  private publish(fill: (tmp: string) => string): string {
    const tmp = tmpName(path.join(this.objects, 'new'));
    try {
      const sha = fill(tmp);
      fs.chmodSync(tmp, 0o444);
      fs.utimesSync(tmp, STORE_MTIME, STORE_MTIME);
      fs.renameSync(tmp, this.objectPath(sha));
      return sha;
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Puts object `sha` at `dest`: a hard link where the file system allows, else a
   * copy (a reflink where it offers one). A `dest` that exists already is kept.
   */
  linkInto(sha: string, dest: string): void {
    const obj = this.objectPath(sha);
    try {
      fs.linkSync(obj, dest);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      // another file system, one without hard links, or the link count is at its limit
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
    }
    const tmp = tmpName(dest);
    fs.copyFileSync(obj, tmp, fs.constants.COPYFILE_FICLONE);
    fs.renameSync(tmp, dest);
  }

  /** What the store holds: objects, their bytes, and how many no trace links (prune() removes those). */
  usage(): { objects: number; bytes: number; unlinked: number; unlinkedBytes: number } {
    const u = { objects: 0, bytes: 0, unlinked: 0, unlinkedBytes: 0 };
    for (const name of fs.readdirSync(this.objects)) {
      if (!SHA256_RE.test(name)) continue;
      const st = fs.statSync(path.join(this.objects, name));
      u.objects++;
      u.bytes += st.size;
      if (st.nlink === 1) {
        u.unlinked++;
        u.unlinkedBytes += st.size;
      }
    }
    return u;
  }

  /**
   * Removes what no trace holds: objects with no other link, and known identities
   * whose object is gone. Traces that got copies (another file system) are not seen
   * here, and lose nothing either. Returns what was removed.
   */
  prune(): { objects: number; bytes: number } {
    let objects = 0;
    let bytes = 0;
    for (const name of fs.readdirSync(this.objects)) {
      const obj = path.join(this.objects, name);
      const st = fs.statSync(obj);
      // a file being stored has a temporary name; one left by an interrupted store is an hour old
      const leftover = !SHA256_RE.test(name) && Date.now() - st.ctimeMs > 3600_000;
      if ((SHA256_RE.test(name) && st.nlink === 1) || leftover) {
        fs.rmSync(obj, { force: true });
        objects++;
        bytes += st.size;
      }
    }
    for (const name of fs.readdirSync(this.known)) {
      const key = path.join(this.known, name);
      let target = '';
      try {
        target = fs.readlinkSync(key);
      } catch {
        // not a link: not ours
      }
      if (!SHA256_RE.test(target) || !fs.existsSync(path.join(this.objects, target))) fs.rmSync(key, { force: true });
    }
    return { objects, bytes };
  }
}
