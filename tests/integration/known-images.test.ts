// The map-file events of ELF images the record loop writes itself once JS has
// stored an image (addon/record_images.h) are the events JS writes: the same JSON,
// key for key and byte for byte; and replay, which maps such images itself too
// (addon/replay_images.h), replays them. A shell runs three programs, each mapping
// libc and the preload library again.
import { describe, expect, it } from 'vitest';
import { TraceReader } from '../../src/history/index.js';
import { describeRun, recordAndReplay, runNative } from '../helpers.js';

const MAP_FILE = 6;
const HEADER = 12;
const IMAGE_KEYS = ['addr', 'length', 'offset', 'prot', 'flags', 'sha', 'path', 'size'];

describe('library mappings recorded by the record loop', () => {
  for (const [how, env] of [['CPUID faulting where the CPU has it', {}], ['CPUID sites patched', { REWIND_CPUID_FAULTING: '0' }]] as const) {
    it(`are the events JS writes, and replay (${how})`, () => {
      const cmd = ['/bin/sh', '-c', 'cat /etc/hostname; ls / > /dev/null; date -u -d @0 +%Y'];
      const native = runNative(cmd);
      const rr = recordAndReplay(cmd, { env });
      expect(rr.record.status, describeRun(rr.record)).toBe(0);
      expect(rr.record.stdout.toString()).toBe(native.stdout.toString());
      expect(rr.replay.status, describeRun(rr.replay)).toBe(0);
      expect(rr.replay.stdout.toString()).toBe(native.stdout.toString());

      const reader = TraceReader.open(rr.traceDir);
      const images: { sha: string; tid: number; raw: string }[] = [];
      try {
        for (const { record } of reader.records(0)) {
          if (record[4] !== MAP_FILE) continue;
          const raw = record.subarray(HEADER).toString('utf8');
          const map = JSON.parse(raw) as Record<string, unknown>;
          if (typeof map.sha !== 'string') continue;  // a data file: always JS's
          // what JS writes: JSON.stringify of these keys in this order
          expect(Object.keys(map), raw).toEqual(IMAGE_KEYS);
          expect(JSON.stringify(map), raw).toBe(raw);
          expect(map.addr).toMatch(/^0x[0-9a-f]+$/);
          images.push({ sha: map.sha, tid: record.readUInt32LE(8), raw });
        }
      } finally {
        reader.close();
      }
      // libc mapped by the shell and by each of its three children: all but the
      // first of them were written by the loop, and they name the same file
      const libc = images.filter((m) => /\/libc\.so\.6"/.test(m.raw));
      expect(new Set(libc.map((m) => m.tid)).size).toBe(4);
      expect(new Set(libc.map((m) => m.sha)).size).toBe(1);
    });
  }
});
