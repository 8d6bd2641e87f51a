import * as fs from 'node:fs';
import * as path from 'node:path';
import { listTraces } from './trace-store.js';
import { signalName } from './signals.js';
import { writeAllSync } from './output.js';

/**
 * The bytes a trace holds of its own: files it shares with the file store (hard
 * links, the libraries) are stored once for all traces and not counted.
 */
function dirSize(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      total += dirSize(p);
    } else {
      const st = fs.statSync(p);
      if (st.nlink === 1) total += st.size;
    }
  }
  return total;
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 && u ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

function readJson(file: string): Record<string, any> | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** Which CPUID answers the recorded program got (docs/portability.md), and what they hid. */
function cpuidOf(meta: Record<string, any>): { column: string; hidden: string[] } {
  const c = meta.cpuid;
  if (!c || typeof c !== 'object' || Array.isArray(c)) return { column: '-', hidden: [] };
  const hidden: string[] = Array.isArray(c.hidden) ? c.hidden.map(String) : [];
  const column = c.baseline ? `${c.baseline}, ${hidden.length} hidden` : c.answers ? 'from a dump' : 'this CPU';
  return { column, hidden };
}

export function lsCommand(): number {
  const rows = listTraces().map((dir) => {
    const meta = readJson(path.join(dir, 'meta.json')) ?? {};
    const end = readJson(path.join(dir, 'end.json'));
    const o = end?.outcome;
    const status = !o ? 'incomplete' : o.kind === 'exited' ? `exit ${o.code}` : o.kind === 'killed' ? signalName(o.signal) : 'stopped';
    const date = String(meta.recordedAt ?? '');
    const cpuid = cpuidOf(meta);
    const line = [path.basename(dir), date.replace('T', ' ').slice(0, 19), human(dirSize(dir)), status, cpuid.column, [meta.program, ...(meta.args ?? [])].join(' ')];
    return { dir, date, line, hidden: cpuid.hidden };
  });
  rows.sort((a, b) => b.date.localeCompare(a.date));
  const table = [['TRACE', 'RECORDED', 'SIZE', 'STATUS', 'CPUID', 'COMMAND'], ...rows.map((r) => r.line)];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const format = (row: string[]) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  // a portable trace names the features its program was not told about, on the line below
  const lines = [format(table[0]), ...rows.flatMap((r) => [format(r.line), ...(r.hidden.length ? [`    hidden: ${r.hidden.join(' ')}`] : [])])];
  writeAllSync(1, Buffer.from(lines.join('\n') + '\n'));
  return 0;
}
