// Rewrites a recorded trace into a new one, record by record, with the trace's own
// reader and writer: the tests use it to make a trace that a second machine would
// have produced (other junk in unread registers, another CPU's answers) without
// having that machine. Stored files are carried over unchanged.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TraceReader, TraceWriter } from '../src/history/index.js';

export interface TraceEdit {
  /** the record to write instead of record `index` (return it unchanged to keep it) */
  record?(index: number, rec: Buffer): Buffer;
  /** the meta.json keys to write instead of the recorded ones */
  meta?(meta: Record<string, unknown>): Record<string, unknown>;
}

export function rewriteTrace(from: string, to: string, edit: TraceEdit): void {
  const reader = TraceReader.open(from);
  try {
    const { format: _format, version: _version, ...meta } = reader.meta;
    const writer = TraceWriter.create(to, edit.meta ? edit.meta(meta) : meta);
    for (const name of fs.readdirSync(path.join(from, 'files'))) {
      writer.storeBuffer(fs.readFileSync(path.join(from, 'files', name)));
    }
    for (let i = 0; i < reader.eventCount; i++) {
      const rec = reader.record(i);
      writer.append(edit.record ? edit.record(i, Buffer.from(rec)) : rec);
    }
    const { eventCount: _count, ...end } = reader.end ?? {};
    writer.close(end);
  } finally {
    reader.close();
  }
}
