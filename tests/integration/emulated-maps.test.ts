// Data files mapped by several processes of a recording (ld.so.cache, locales, a
// program's own data): the replay loop applies the map-file events of an emulated
// file itself once JS has applied one naming the same pieces (addon/replay_emu_map.h,
// docs/replay-speed.md). These tests check that the loop's mappings show the
// recorded bytes, not the file as it is at replay time, and that the loop did
// apply some of them (fewer events were left to JS than the trace has).
import * as fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/history/events.js';
import { TraceReader } from '../../src/history/index.js';
import { Replayer } from '../../src/replay/replayer.js';
import { describeRun, programPath, pseudoRandomBytes, rewind, runNative, tempDir } from '../helpers.js';

const text = (b: Buffer) => b.toString('utf8');

describe('data files mapped by several processes', () => {
  it('replay with the recorded bytes in every process, most of them mapped by the native loop', async () => {
    const root = tempDir('rewind-emu-maps-');
    const data = path.join(root, 'data.bin');
    // two pieces with 1 MiB of zeros between them (stored as no piece) and a tail
    // that ends inside a page
    const contents = Buffer.concat([pseudoRandomBytes(1 << 20, 7), Buffer.alloc(1 << 20), pseudoRandomBytes(300_001, 11)]);
    fs.writeFileSync(data, contents);
    const cmd = ['/bin/sh', '-c', `for i in 1 2 3; do ${programPath('mmapfile')} ${data}; done`];
    const native = runNative(cmd);
    expect(native.status, describeRun(native)).toBe(0);
    const traceDir = path.join(root, 'trace');
    const record = rewind(['record', '-o', traceDir, '--', ...cmd], { traceRoot: root });
    expect(record.status, describeRun(record)).toBe(0);
    // the program's checksums, without its (ASLR-dependent) addresses
    const sums = (out: Buffer) => text(out).split('\n').filter((l) => l.includes('checksum')).map((l) => l.replace(/ at 0x[0-9a-f]+/, ''));
    expect(sums(record.stdout)).toEqual(sums(native.stdout));
    expect(sums(record.stdout).filter((l) => l.startsWith('file checksum'))).toHaveLength(3);

    // The file changes after the recording: the replay must show the recorded bytes.
    fs.writeFileSync(data, pseudoRandomBytes(contents.length, 99));
    const replay = rewind(['replay', '--check', traceDir], { traceRoot: root });
    expect(replay.status, describeRun(replay)).toBe(0);
    expect(text(replay.stdout)).toBe(text(record.stdout));

    const reader = TraceReader.open(traceDir);
    try {
      let emulatedMaps = 0;
      let dataMaps = 0;
      for (let i = 0; i < reader.eventCount; i++) {
        const e = decodeEvent(reader.record(i));
        if (e.kind !== 'map-file' || !e.map.file) continue;
        emulatedMaps++;
        if (e.map.path === data) dataMaps++;
      }
      expect(dataMaps).toBe(3);
      const replayer = await Replayer.start(reader);
      let out = '';
      const outcome = await replayer.run({ onOutput: (fd, b) => { if (fd === 1) out += text(b); } });
      expect(outcome).toMatchObject({ kind: 'exited', code: 0 });
      expect(out).toBe(text(record.stdout));
      // The first mapping of each piece is JS's, the ones after it the loop's. Were
      // they all JS's, the events left to JS would be at least every emulated map
      // (and the first mapping of each ELF image besides).
      expect(replayer.times.jsEvents).toBeLessThan(emulatedMaps);
    } finally {
      reader.close();
    }
  });
});
