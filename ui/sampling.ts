// What the watch plot samples and how it reads gdb's values: pure functions, apart
// from the page so that the unit tests run them without a browser.
import type { Timeline } from './types.js';

/** the most events one plot samples (the server's limit too) */
export const MAX_SAMPLES = 48;

/** A number gdb printed: an integer, a float, a pointer, a char ("97 'a'"), a bool; else null. */
export function numericValue(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?( '.*')?$/.test(t)) return parseFloat(t);
  const hex = /^(?:\([^)]*\)\s*)?0x([0-9a-f]+)/i.exec(t);
  if (hex) return parseInt(hex[1], 16);
  if (t === 'true' || t === 'false') return t === 'true' ? 1 : 0;
  return null;
}

/**
 * The events of the view [lo, hi] to sample, at most MAX_SAMPLES: the current one,
 * the output writes, signals and process events first (the moments a user looks
 * at), then other syscalls evenly spread over the view.
 */
export function eventsToSample(timeline: Timeline, lo: number, hi: number, current: number): number[] {
  const inView = timeline.events.filter((e) => e.index >= lo && e.index <= hi);
  const chosen = new Set<number>(current >= lo && current <= hi ? [current] : []);
  for (const e of inView) if (e.kind !== 'syscall' && chosen.size < MAX_SAMPLES) chosen.add(e.index);
  const rest = inView.filter((e) => !chosen.has(e.index)).map((e) => e.index);
  const room = MAX_SAMPLES - chosen.size;
  if (rest.length <= room) rest.forEach((i) => chosen.add(i));
  else for (let k = 0; k < room; k++) chosen.add(rest[Math.floor((k * rest.length) / room)]);
  return [...chosen].sort((a, b) => a - b);
}

