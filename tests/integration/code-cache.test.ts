// bin/rewind.js compiles the bundles with V8's code cache, kept next to each bundle
// (docs/startup.md): the first run writes it, later runs use it and leave it alone,
// and a cache V8 rejects or one made from another build of the bundle is replaced,
// never run. On a copy of bin/ and dist/bundle/, so the checkout's own caches (which
// other tests use in parallel) are not touched; `--help` needs no addon.
import { cpSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeRun, ROOT, runNative, tempDir } from '../helpers.js';

describe('the bundles\' code cache', () => {
  it('is written by the first run, used by the next, and replaced when rejected or stale', () => {
    const copy = tempDir('rewind-code-cache-');
    cpSync(path.join(ROOT, 'bin'), path.join(copy, 'bin'), { recursive: true });
    cpSync(path.join(ROOT, 'dist', 'bundle'), path.join(copy, 'dist', 'bundle'), { recursive: true, filter: (f) => !f.endsWith('.v8-cache') });
    const bundle = path.join(copy, 'dist', 'bundle');
    const main = path.join(bundle, 'main.cjs');
    const cache = `${main}.v8-cache`;
    const help = () => {
      const r = runNative([process.execPath, path.join(copy, 'bin', 'rewind.js'), '--help']);
      expect(r.status, describeRun(r)).toBe(0);
      return r.stdout.toString();
    };
    const stampOf = (file: string) => {
      const st = statSync(file);
      return `${st.ino} ${st.size} ${st.mtimeMs}\n`;
    };

    const first = help();
    expect(first).toContain('Usage: rewind <command>');
    expect(readdirSync(bundle).filter((f) => f.endsWith('.v8-cache')).sort()).toEqual(['inherited-stdio.cjs.v8-cache', 'main.cjs.v8-cache']);
    const written = readFileSync(cache);
    expect(written.subarray(0, stampOf(main).length).toString()).toBe(stampOf(main));
    expect(written.length).toBeGreaterThan(stampOf(main).length + 1000);

    // accepted: not written again (a rewrite renames a new file into place)
    const inode = statSync(cache).ino;
    expect(help()).toBe(first);
    expect(statSync(cache).ino).toBe(inode);

    // V8 rejects what is not its cache: the run is the same, and the cache is replaced
    writeFileSync(cache, Buffer.concat([Buffer.from(stampOf(main)), Buffer.alloc(4096, 0x5a)]));
    expect(help()).toBe(first);
    const replaced = readFileSync(cache);
    expect(replaced.subarray(stampOf(main).length).equals(Buffer.alloc(4096, 0x5a))).toBe(false);
    const replacedInode = statSync(cache).ino;
    expect(help()).toBe(first);
    expect(statSync(cache).ino).toBe(replacedInode);  // and V8 takes the new one

    // a bundle rebuilt (here: its mtime moved) does not use the cache of the old one
    const stale = stampOf(main);
    utimesSync(main, new Date(), new Date(Date.now() + 5000));
    expect(stampOf(main)).not.toBe(stale);
    expect(help()).toBe(first);
    expect(readFileSync(cache).subarray(0, stampOf(main).length).toString()).toBe(stampOf(main));
  });
});
