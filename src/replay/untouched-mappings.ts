// What the capture of an address space at an exec (address-space.ts) need not read:
// file mappings that still show their file page for page, so that the capture
// names the file instead of reading the mapping through the tracer and comparing it
// with the file (a 25 MB cc1 cost ~30 ms per exec, most of a `make`'s recording),
// and anonymous mappings no page of which was ever touched, which are zero (a
// program's bss).
//
// A private file mapping differs from its file only where a page was copied on
// write; /proc/PID/smaps counts those pages as "Anonymous". At an exec stop only
// the kernel has run in the new image: it zeroes the tail of the page where bss
// starts, which makes that page anonymous, so the data segment is still read and
// compared; the text and read-only segments are not. An anonymous mapping with no
// resident and no swapped page has never been written.
import * as fs from 'node:fs';

export interface UntouchedMappings {
  /** start addresses of file mappings with no anonymous page */
  files: Set<bigint>;
  /** start addresses of anonymous mappings with no page at all */
  zero: Set<bigint>;
}

export function untouchedMappings(pid: number): UntouchedMappings {
  const out: UntouchedMappings = { files: new Set(), zero: new Set() };
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return out;  // nothing known: every mapping is read
  }
  let start: bigint | undefined;
  let file = false;
  let rss = -1;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ \S{4} [0-9a-f]+ [0-9a-f]+:[0-9a-f]+ (\d+)\s*(\S*)/.exec(line);
    if (head) {
      start = BigInt('0x' + head[1]);
      file = head[2] !== '0';
      // [stack], [heap] and the kernel's own are read as they are
      if (!file && head[3] !== '') start = undefined;
      rss = -1;
      continue;
    }
    if (start === undefined) continue;
    const field = /^(Rss|Anonymous|Swap):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    if (field[1] === 'Rss') rss = Number(field[2]);
    else if (field[1] === 'Anonymous' && file) {
      if (field[2] === '0') out.files.add(start);
      start = undefined;
    } else if (field[1] === 'Swap' && !file) {
      if (rss === 0 && field[2] === '0') out.zero.add(start);
      start = undefined;
    }
  }
  return out;
}
