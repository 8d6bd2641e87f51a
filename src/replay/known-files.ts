// The replay loop maps an ELF image, or an emulated file from its pieces, by itself
// once JS has told it the stored file (addon/replay_images.h, replay_emu_map.h). JS
// tells it at the first map-file event that names the file, a stop of its own: 29 in
// a make's replay, ~0.4 ms each and a run of the loop more. Here the trace's stored
// files are told ahead instead, while the first process runs and the JS thread waits
// for it: each checked against its hash first, as unpackedFilePath checks it (most
// were checked by an earlier replay or carried across the recorder's link, and
// cost a stat). Not where map-file events patch CPUID sites: JS does that at each
// one. A file that fails its check is not told: the event that maps it comes to JS,
// which fails the replay with the error it always gave.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TraceReader } from '../history/index.js';
import { FILES_DIR, SHA256_RE } from '../history/container-format.js';
import { native } from '../native/addon.js';
import { cpuidPatchesMappings } from '../cpuid/replaying.js';

/** Tells the replay loop every stored file of `trace`, one per turn of the event loop. Never throws. */
export function tellLoopAhead(trace: TraceReader): void {
  if (cpuidPatchesMappings(trace)) return;
  let shas: string[];
  try {
    shas = fs.readdirSync(path.join(trace.dir, FILES_DIR)).filter((name) => SHA256_RE.test(name));
  } catch {
    return;  // no files, or packed: JS maps them as before
  }
  const n = native();
  const next = (i: number): void => {
    if (i >= shas.length) return;
    const sha = shas[i];
    try {
      const file = trace.unpackedFilePath(sha);
      // an image's or a piece's: which table the loop looks in is the event's to say
      if (file) {
        n.replayKnowImage(sha, file, null).catch(() => {});
        n.replayKnowPiece(sha, file).catch(() => {});
      }
    } catch {
      // fails its check: left to the event that maps it
    }
    setImmediate(next, i + 1);
  };
  setImmediate(next, 0);
}
