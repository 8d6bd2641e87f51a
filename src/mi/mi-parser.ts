// The gdb/MI output syntax (gdb manual, "GDB/MI Output Syntax"), one line at a time:
// result records (`123^done,bkpt={...}`), async records (`*stopped,...`, `=breakpoint-
// modified,...`), stream records (`~"text"`), and the `(gdb)` prompt. Values are
// c-strings, tuples `{a=...}` and lists `[...]`; a list of `name=value` results (as in
// `stack=[frame={...},frame={...}]`) becomes an array of the values, since gdb repeats
// one name there. Hand-written because no maintained npm package exports an MI parser
// on its own (cdt-gdb-adapter's is internal to its adapter and tied to its backend).

export type MiValue = string | MiTuple | MiValue[];
export interface MiTuple { [name: string]: MiValue }

export type MiRecord =
  | { type: 'result'; token?: number; cls: string; data: MiTuple }
  /** `*` exec (running/stopped), `+` status, `=` notify */
  | { type: 'exec' | 'status' | 'notify'; token?: number; cls: string; data: MiTuple }
  /** `~` console, `@` target, `&` log */
  | { type: 'console' | 'target' | 'log'; text: string }
  | { type: 'prompt' }
  /** a line that is not MI (gdb's own stray output) */
  | { type: 'other'; text: string };

export class MiSyntaxError extends Error {}

const ASYNC_TYPES: Record<string, 'exec' | 'status' | 'notify'> = { '*': 'exec', '+': 'status', '=': 'notify' };
const STREAM_TYPES: Record<string, 'console' | 'target' | 'log'> = { '~': 'console', '@': 'target', '&': 'log' };
// sticky and global patterns, matched at the cursor without copying the rest of the line
const NAME = /[A-Za-z0-9_.-]+/y;
const RESULT_START = /[A-Za-z0-9_.-]+=/y;
const OCTAL = /[0-7]{1,3}/y;
const QUOTE_OR_ESCAPE = /["\\]/g;
const SIMPLE_ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, '\\': 92, a: 7, b: 8, f: 12, v: 11, e: 27 };

/** Parses one line of gdb/MI output (without its newline). */
export function parseMiLine(line: string): MiRecord {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (/^\(gdb\) ?$/.test(text)) return { type: 'prompt' };
  const m = /^(\d*)([\^*+=~@&])/.exec(text);
  if (!m) return { type: 'other', text };
  const token = m[1] ? Number(m[1]) : undefined;
  const kind = m[2];
  const p = new Cursor(text, m[0].length);
  try {
    if (kind in STREAM_TYPES) {
      if (token !== undefined) throw p.error('a stream record has no token');
      const s = p.cString();
      p.end();
      return { type: STREAM_TYPES[kind], text: s };
    }
    const cls = p.word();
    const data = p.results();
    p.end();
    if (kind === '^') return { type: 'result', token, cls, data };
    return { type: ASYNC_TYPES[kind], token, cls, data };
  } catch (e) {
    if (e instanceof MiSyntaxError) return { type: 'other', text };
    throw e;
  }
}

/** Quotes an argument for an MI command line when it needs it (spaces, quotes, backslashes). */
export function miQuote(arg: string): string {
  if (arg !== '' && /^[^\s"\\]+$/.test(arg)) return arg;
  return `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

class Cursor {
  constructor(private readonly s: string, private i: number) {}

  error(what: string): MiSyntaxError {
    return new MiSyntaxError(`MI syntax: ${what} at column ${this.i} of ${JSON.stringify(this.s)}`);
  }

  end(): void {
    if (this.i !== this.s.length) throw this.error('unexpected text');
  }

  /** A result class or variable name: letters, digits and - _ . */
  word(): string {
    NAME.lastIndex = this.i;
    const m = NAME.exec(this.s);
    if (!m) throw this.error('expected a name');
    this.i += m[0].length;
    return m[0];
  }

  /** `(,name=value)*` up to the end of the line */
  results(): MiTuple {
    const out: MiTuple = {};
    while (this.s[this.i] === ',') {
      this.i++;
      const [name, value] = this.result();
      if (!(name in out)) out[name] = value;
    }
    return out;
  }

  private result(): [string, MiValue] {
    const name = this.word();
    if (this.s[this.i] !== '=') throw this.error('expected =');
    this.i++;
    return [name, this.value()];
  }

  private value(): MiValue {
    const c = this.s[this.i];
    if (c === '"') return this.cString();
    if (c === '{') return this.tuple();
    if (c === '[') return this.list();
    throw this.error('expected a value');
  }

  private tuple(): MiTuple {
    this.i++;
    const out: MiTuple = {};
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      const [name, value] = this.result();
      if (!(name in out)) out[name] = value;
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') throw this.error('expected , or }');
    }
  }

  private list(): MiValue[] {
    this.i++;
    const out: MiValue[] = [];
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    // a list holds either values or name=value results; of results only the values are kept
    RESULT_START.lastIndex = this.i;
    const ofResults = RESULT_START.test(this.s);
    for (;;) {
      out.push(ofResults ? this.result()[1] : this.value());
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') throw this.error('expected , or ]');
    }
  }

  /** A C string; octal escapes are bytes, so the whole is decoded as UTF-8. */
  cString(): string {
    if (this.s[this.i] !== '"') throw this.error('expected "');
    this.i++;
    const parts: Buffer[] = [];
    for (;;) {
      QUOTE_OR_ESCAPE.lastIndex = this.i;
      const stop = QUOTE_OR_ESCAPE.exec(this.s);
      if (!stop) throw this.error('unterminated string');
      parts.push(Buffer.from(this.s.slice(this.i, stop.index), 'utf8'));
      this.i = stop.index;
      if (this.s[this.i++] === '"') return Buffer.concat(parts).toString('utf8');
      OCTAL.lastIndex = this.i;
      const octal = OCTAL.exec(this.s);
      const e = this.s[this.i];
      if (octal) {
        parts.push(Buffer.from([parseInt(octal[0], 8) & 0xff]));
        this.i += octal[0].length;
      } else if (e === undefined) {
        throw this.error('unterminated string');
      } else {
        parts.push(e in SIMPLE_ESCAPES ? Buffer.from([SIMPLE_ESCAPES[e]]) : Buffer.from(e, 'utf8'));
        this.i++;
      }
    }
  }
}
