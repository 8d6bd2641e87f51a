// The trace reader's cache of decompressed chunks: at most a given number of bytes,
// the least recently used chunk dropped first. A Map keeps its keys in insertion
// order, so the least recently used is the first key once a hit re-inserts its key.
// lru-cache did this before; loading it reads the global `performance` (which loads
// perf_hooks) and imports diagnostics_channel: up to ~5 ms of a `replay --check` on a
// loaded machine (docs/startup.md), for four methods of a cache without expiry.
export class ChunkCache<V> {
  private readonly entries = new Map<number, { value: V; size: number }>();
  private bytes = 0;

  /** sizeOf: an entry's bytes (at least 1); an entry larger than maxBytes is not kept. */
  constructor(private readonly maxBytes: number, private readonly sizeOf: (value: V) => number) {}

  get(key: number): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  has(key: number): boolean {
    return this.entries.has(key);
  }

  set(key: number, value: V): void {
    this.delete(key);
    const size = Math.max(1, this.sizeOf(value));
    if (size > this.maxBytes) return;
    this.entries.set(key, { value, size });
    this.bytes += size;
    for (const [oldest, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= e.size;
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private delete(key: number): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.size;
  }
}
