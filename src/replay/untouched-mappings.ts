// Which file mappings of a process still show their file, page for page, so that
// the capture of its address space at an exec (address-space.ts) can name the file
// instead of reading the mapping through the tracer and comparing it with the file.
// Reading a 25 MB cc1 that way cost ~30 ms per exec, most of a `make`'s recording.
//
// A private file mapping differs from its file only where a page was copied on
// write; /proc/PID/smaps counts those pages as "Anonymous". At an exec stop only
// the kernel has run in the new image: it zeroes the tail of the page where bss
// starts, which makes that page anonymous, so the data segment is still read and
// compared; the text and read-only segments are not.
import * as fs from 'node:fs';

/** Start addresses of the mappings of a file (an inode) that have no anonymous page. */
export function untouchedFileMappings(pid: number): Set<bigint> {
  const out = new Set<bigint>();
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return out;  // nothing known: every mapping is read
  }
  let start: bigint | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ \S{4} [0-9a-f]+ [0-9a-f]+:[0-9a-f]+ (\d+)/.exec(line);
    if (head) {
      start = head[2] !== '0' ? BigInt('0x' + head[1]) : undefined;
      continue;
    }
    if (start === undefined) continue;
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (anon) {
      if (anon[1] === '0') out.add(start);
      start = undefined;
    }
  }
  return out;
}
