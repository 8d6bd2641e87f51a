// Writing benchmark results: each suite owns one section of docs/benchmarks.md,
// between markers naming the script, and leaves the other sections as they are.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const docs = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'benchmarks.md');

/** When and where: the sentence every section starts its description with. */
export function measuredOn() {
  return `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.hostname()}: `
    + `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, `
    + `Linux ${os.release()}, Node ${process.version}; load average ${os.loadavg()[0].toFixed(1)} when it started (the machine may be shared).`;
}

/** The lines of the section `script: id` as docs/benchmarks.md has it now (empty when it has none). */
export function readSection(script, id) {
  if (!fs.existsSync(docs)) return [];
  const text = fs.readFileSync(docs, 'utf8');
  const begin = `<!-- ${script}: ${id} -->`;
  const at = text.indexOf(begin);
  const stop = at < 0 ? -1 : text.indexOf(`<!-- end: ${id} -->`, at);
  return stop < 0 ? [] : text.slice(at + begin.length, stop).split('\n');
}

/** Replaces (or appends) the section `script: id` with `lines`, and prints it. */
export function writeSection(script, id, lines) {
  const begin = `<!-- ${script}: ${id} -->`;
  const end = `<!-- end: ${id} -->`;
  const section = [begin, ...lines, end].join('\n');
  let text = fs.existsSync(docs)
    ? fs.readFileSync(docs, 'utf8')
    : '# Benchmarks\n\nProduced by `npm run bench`; numbers are never asserted in tests.\n';
  const at = text.indexOf(begin);
  const stop = at < 0 ? -1 : text.indexOf(end, at);
  text = stop < 0 ? `${text.trimEnd()}\n\n${section}\n` : text.slice(0, at) + section + text.slice(stop + end.length);
  fs.writeFileSync(docs, text);
  process.stdout.write(section + '\n');
}
