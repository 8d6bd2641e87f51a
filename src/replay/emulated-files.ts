// Emulated files in a replayed process (addon/replay_files.h has the model): each
// data file the recorded program mapped, and each piece of shared memory, becomes a
// memfd named "rewind:<identity>" in the replayed process, filled with the recorded
// bytes and mapped as the program mapped it. Stateless: the memfds are found again
// in the process itself, so a forked copy (a checkpoint) needs nothing from here.
import * as fs from 'node:fs';
import type { TraceReader } from '../history/index.js';
import type { FileDataInfo, MapFileInfo, Pieces } from '../history/events.js';
import { native } from '../native/addon.js';
import { mapStoredFile } from './stored-mappings.js';
import { cpuidImageSites, cpuidPatchesMappings } from '../cpuid/replaying.js';

const MAP_PRIVATE = 2n;
const ZEROS = Buffer.alloc(1 << 20);

/** The process's fd of the emulated file with this identity, if it has one. */
function findEmulated(pid: number, identity: string): number | undefined {
  const want = `/memfd:rewind:${identity}`;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target === want || target === `${want} (deleted)`) return Number(fd);
    } catch {
      // closed meanwhile
    }
  }
  return undefined;
}

/**
 * Writes the recorded bytes of [offset, offset + length) into the emulated file:
 * the pieces, and zeros where it holds other data (a fresh file has none).
 */
function writeRange(trace: TraceReader, pid: number, fd: number, offset: number, length: number, pieces: Pieces): void {
  const path = `/proc/${pid}/fd/${fd}`;
  const host = fs.openSync(path, 'r+');
  try {
    const covered = new Set<number>();
    for (const [at, sha] of pieces) {
      const data = trace.file(sha);
      fs.writeSync(host, data, 0, Math.min(data.length, length - at), offset + at);
      covered.add(at);
    }
    const extents = native().fileDataExtents(path, offset, offset + length);
    for (let i = 0; i < extents.length; i += 2) {
      for (let p = extents[i]; p < extents[i + 1]; ) {
        const piece = Math.floor((p - offset) / ZEROS.length) * ZEROS.length;
        const end = Math.min(extents[i + 1], offset + piece + ZEROS.length);
        if (!covered.has(piece)) fs.writeSync(host, ZEROS, 0, end - p, p);
        p = end;
      }
    }
  } finally {
    fs.closeSync(host);
  }
}

function setSize(pid: number, fd: number, size: number): void {
  const host = fs.openSync(`/proc/${pid}/fd/${fd}`, 'r+');
  try {
    fs.ftruncateSync(host, size);
  } finally {
    fs.closeSync(host);
  }
}

/**
 * A map-file event: the placeholder the native loop mapped at the recorded address
 * gets the recorded contents (ELF images: copied into it), or is replaced by a
 * mapping of the emulated file.
 */
export async function applyMapFile(pid: number, trace: TraceReader, map: MapFileInfo): Promise<void> {
  const offset = Number(BigInt(map.offset));
  if (!map.file) {
    if (!map.sha) return;  // /dev/zero, mapped privately: zero memory
    // an ELF image: mapped from the trace's file over the placeholder, else copied
    if (await mapStoredFile(pid, trace, map.sha, BigInt(map.addr), map.size, offset, BigInt(map.prot))) {
      // the native loop maps the next ones itself (and patches their CPUID sites if need be)
      const path = trace.unpackedFilePath(map.sha);
      if (path) void native().replayKnowImage(map.sha, path, await cpuidImageSites(trace, map.sha));
      return;
    }
    const data = trace.file(map.sha).subarray(offset, offset + map.size);
    if (data.length) await native().writeMemory(pid, BigInt(map.addr), data);
    return;
  }
  // one tracer job: find or create the memfd, its size and bytes, the mapping
  // (addon/replay_emu_map.h; step by step, each injected call was a round trip)
  const anon = map.file.startsWith('anon:');
  const shared = (BigInt(map.flags) & 3n) !== MAP_PRIVATE;
  await native().emuMapFile(pid, {
    identity: map.file,
    fileSize: BigInt(map.fileSize ?? 0),
    fill: !anon,
    offset: BigInt(offset),
    length: BigInt(map.size),
    pieces: anon ? [] : (map.pieces ?? []).map(([at, sha]) => [BigInt(at), trace.file(sha)]),
    addr: BigInt(map.addr),
    mapLength: BigInt(map.length),
    prot: Number(BigInt(map.prot)),
    mapOffset: anon ? 0n : BigInt(offset),
    shared,
    readOnly: !!map.readOnly,
  });
  if (!anon && !cpuidPatchesMappings(trace)) tellLoopPieces(trace, map.pieces ?? []);
}

/** Pieces the native loop was told of, by trace. */
const toldPieces = new WeakMap<TraceReader, Set<string>>();

/**
 * The replay loop applies later map-file events whose pieces it knows itself, with no
 * stop for JS (addon/replay_emu_map.h): it is told each piece's checked file once.
 */
function tellLoopPieces(trace: TraceReader, pieces: Pieces): void {
  let told = toldPieces.get(trace);
  if (!told) toldPieces.set(trace, (told = new Set()));
  for (const [, sha] of pieces) {
    if (told.has(sha)) continue;
    told.add(sha);
    const path = trace.unpackedFilePath(sha);
    // a job, so that it applies before the next run; a failure only leaves the events to JS
    if (path) native().replayKnowPiece(sha, path).catch(() => {});
  }
}

/** A file-data event: new bytes (and size) of an emulated file the process has. */
export async function applyFileData(pid: number, trace: TraceReader, data: FileDataInfo): Promise<void> {
  const fd = findEmulated(pid, data.file);
  if (fd === undefined) return;  // not mapped in this process: nothing shows it
  // A change must not reach the copies (checkpoints) that share the file.
  if (data.changed) await native().emuUnshare(pid, fd);
  setSize(pid, fd, data.fileSize);
  writeRange(trace, pid, fd, Number(BigInt(data.offset)), data.length, data.pieces);
}
