// The timeline page: the run's events on a zoomable axis (ui/axis.ts) with a slider
// for the current point, the state there (source line or disassembly, stack, locals,
// registers, output so far), the step buttons, and a watched expression across time
// (ui/watch.ts). Every move is a command over the WebSocket to the session
// (src/ui/session.ts), which answers with the state where the replay stopped; the
// page only draws what it is told. Plain DOM: the page is small, and this keeps the
// bundle to the one library it needs (uPlot, for the plot).
import { Axis } from './axis.js';
import { Watch } from './watch.js';
import { highlightedLines, languageOf, type Piece } from './highlight.js';
import type { PointState, Sample, Timeline } from './types.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const token = new URLSearchParams(location.search).get('token') ?? '';
let timeline: Timeline;
let axis: Axis;
let watch: Watch;
let socket: WebSocket;
let nextId = 1;
const waiting = new Map<number, { resolve: (answer: Answer) => void; reject: (e: Error) => void }>();
/** the state last shown: its breakpoints decide whether a click on a line sets or clears one */
let current: PointState | undefined;
const sources = new Map<string, Piece[][]>();
let busy = false;
/** shows the progress the engine reports for the move under way */
let onProgress: (p: { percent: number; event: number }) => void = () => undefined;

interface Answer { state?: PointState; done?: boolean; samples?: Sample[] }
/** how far the move under way is, when the engine can tell (a seek) */
let howFar = '';

function request(op: Record<string, unknown>): Promise<Answer> {
  const id = nextId++;
  socket.send(JSON.stringify({ id, ...op }));
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}

/** What a move is, for its progress line: where a seek goes, which command runs. */
function describeMove(op: Record<string, unknown>): string {
  if (op.op === 'seek') return `going to event ${op.event} of ${timeline.eventCount}`;
  if (op.op === 'resume') return `${op.reverse ? 'reverse-' : ''}${op.action}`;
  if (op.op === 'origin') return `finding the last write of ${op.expr}`;
  return String(op.op);
}

/**
 * Runs one move; the page's controls wait while it runs, and show its error. A move
 * that takes a while shows what it is, how long it has run, and a button that stops
 * it (gdb's interrupt: the move then answers with where the replay stopped).
 */
async function move(op: Record<string, unknown>): Promise<void> {
  if (busy) return;
  busy = true;
  document.body.dataset.busy = 'true';
  const started = Date.now();
  const progress = $('progress');
  const what = describeMove(op);
  const showProgress = () => {
    progress.hidden = false;
    $('elapsed').textContent = `${what}: ${howFar ? `${howFar}, ` : ''}${Math.round((Date.now() - started) / 1000)} s`;
  };
  howFar = '';
  onProgress = (p) => {
    howFar = `${p.percent}% (at event ${p.event})`;
    document.body.dataset.progressSeen = String(Math.max(Number(document.body.dataset.progressSeen ?? 0), p.percent));
    showProgress();
  };
  const tick = setInterval(showProgress, 500);
  $('status').textContent = '';
  try {
    const answer = await request(op);
    if (answer.state) await show(answer.state);
  } catch (e) {
    $('status').textContent = (e as Error).message;
  } finally {
    clearInterval(tick);
    onProgress = () => undefined;
    progress.hidden = true;
    busy = false;
    document.body.dataset.busy = 'false';
  }
}

async function cancel(): Promise<void> {
  try {
    const answer = await request({ op: 'interrupt' });
    if (answer.done === false) $('status').textContent = 'this move cannot be stopped (a seek runs as one command); it ends by itself';
  } catch (e) {
    $('status').textContent = (e as Error).message;
  }
}

function drawControls(): void {
  const controls = $('controls');
  const buttons: [string, string, boolean][] = [
    ['reverse-continue', 'continue', true], ['reverse-finish', 'finish', true], ['reverse-next', 'next', true], ['reverse-step', 'step', true],
    ['step', 'step', false], ['next', 'next', false], ['finish', 'finish', false], ['continue', 'continue', false],
  ];
  for (const [label, action, reverse] of buttons) {
    const b = document.createElement('button');
    b.textContent = label;
    b.id = `btn-${label}`;
    b.addEventListener('click', () => void move({ op: 'resume', action, reverse }));
    controls.append(b);
  }
  $('cancel').addEventListener('click', () => void cancel());
}

async function sourceLines(file: string): Promise<Piece[][]> {
  if (!sources.has(file)) {
    const r = await fetch(`api/source?token=${token}&path=${encodeURIComponent(file)}`);
    const text = await r.text();
    const language = languageOf(file);
    sources.set(file, !r.ok ? [[{ text: `(${text})`, classes: [] }]]
      : language ? highlightedLines(text, language)
      : text.split('\n').map((l) => (l ? [{ text: l, classes: [] }] : [])));
  }
  return sources.get(file)!;
}

async function showSource(s: PointState): Promise<void> {
  const frame = s.sourceFrame !== undefined ? s.frames[s.sourceFrame] : undefined;
  const source = $('source');
  source.replaceChildren();
  if (frame?.fullname && frame.line) {
    $('source-title').textContent = `${frame.file ?? frame.fullname}:${frame.line} in ${frame.func ?? '?'}`;
    const file = frame.fullname;
    const lines = await sourceLines(file);
    const marked = new Map(s.breakpoints.filter((b) => b.file === file).map((b) => [b.line, b.condition]));
    lines.forEach((pieces, i) => {
      const n = i + 1;
      const line = document.createElement('span');
      line.className = ['line', n === frame.line ? 'current' : '', marked.has(n) ? 'bp' : ''].filter(Boolean).join(' ');
      line.dataset.n = String(n);
      if (pieces.length === 0) line.textContent = ' ';
      for (const p of pieces) {
        if (!p.classes.length) { line.append(p.text); continue; }
        const span = document.createElement('span');
        span.className = p.classes.join(' ');
        span.textContent = p.text;
        line.append(span);
      }
      line.title = marked.has(n) ? `click: clear the breakpoint${marked.get(n) ? ` (if ${marked.get(n)})` : ''}` : 'click: break here (if the condition above holds, when one is given)';
      line.addEventListener('click', () => {
        const set = current?.breakpoints.some((b) => b.file === file && b.line === n);
        const condition = $<HTMLInputElement>('condition').value.trim();
        void move(set ? { op: 'clear', file, line: n } : { op: 'break', file, line: n, ...(condition ? { condition } : {}) });
      });
      source.append(line);
    });
    source.querySelector('.current')?.scrollIntoView({ block: 'center' });
  } else if (s.disassembly?.length) {
    const top = s.frames[0];
    $('source-title').textContent = `${top?.func ?? top?.addr ?? '?'}${top?.from ? ` in ${top.from}` : ''} (no source: disassembly)`;
    source.append(...s.disassembly.map((i) => {
      const line = document.createElement('span');
      line.className = `insn${i.current ? ' current' : ''}`;
      line.dataset.address = i.address;
      line.textContent = `${i.address}  ${(i.symbol ?? '').padEnd(28)} ${i.text}`;
      return line;
    }));
    source.querySelector('.current')?.scrollIntoView({ block: 'center' });
  } else {
    $('source-title').textContent = s.frames[0] ? `${s.frames[0].func ?? s.frames[0].addr} (no source)` : 'no program';
  }
}

async function show(s: PointState): Promise<void> {
  current = s;
  axis.show(s.event, s.checkpoints);
  const watched = s.watch ? ` — ${s.watch.exp}: ${s.watch.old ?? '?'} → ${s.watch.new ?? '?'} (the write that gave it its value)` : '';
  $('where').textContent = s.ended ? `event ${s.event}: the program has ended` : `event ${s.event} (${s.reason})${watched}`;
  document.body.dataset.event = String(s.event);
  document.body.dataset.reason = s.reason;
  await showSource(s);
  $('stack').replaceChildren(...s.frames.map((f) => {
    const li = document.createElement('li');
    li.textContent = `${f.func ?? '??'} ${f.file ? `${f.file}:${f.line}` : f.from ?? f.addr}`;
    if (f.level === s.sourceFrame) li.className = 'selected';
    return li;
  }));
  $('locals').replaceChildren(...s.locals.map((v) => row(v.name, v.value ?? `{${v.type ?? '…'}}`)));
  $('registers').replaceChildren(...s.registers.map((r) => row(r.name, r.value)));
  $('output').replaceChildren(...timeline.output.filter((o) => o.index <= s.event).map((o) => {
    const li = document.createElement('li');
    li.className = `fd${o.fd}`;
    li.textContent = o.text;
    li.title = `written at event ${o.index}`;
    li.dataset.event = String(o.index);
    li.addEventListener('click', () => void move({ op: 'seek', event: o.index }));
    return li;
  }));
}

function row(name: string, value: string): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.dataset.name = name;
  for (const text of [name, value]) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

async function main(): Promise<void> {
  timeline = await (await fetch(`api/timeline?token=${token}`)).json() as Timeline;
  axis = new Axis(timeline, {
    seek: (event) => void move({ op: 'seek', event }),
    viewChanged: () => void watch.refresh(),
  });
  watch = new Watch(timeline, {
    sample: async (expr, events) => (await request({ op: 'sample', expr, events })).samples ?? [],
    origin: (expr) => void move({ op: 'origin', expr }),
    seek: (event) => void move({ op: 'seek', event }),
    view: () => ({ lo: axis.lo, hi: axis.hi, current: current?.event ?? 0 }),
  });
  drawControls();
  socket = new WebSocket(`ws://${location.host}/ws?token=${token}`);
  socket.addEventListener('message', (m) => {
    const answer = JSON.parse(String(m.data)) as Answer & { id: number; error?: string; progress?: { percent: number; event: number } };
    if (answer.progress) return onProgress(answer.progress); // not the answer yet
    const w = waiting.get(answer.id);
    waiting.delete(answer.id);
    if (answer.error !== undefined) w?.reject(new Error(answer.error));
    else w?.resolve(answer);
  });
  socket.addEventListener('close', () => ($('status').textContent = 'the rewind ui server has gone'));
  await new Promise((resolve) => socket.addEventListener('open', resolve, { once: true }));
  await move({ op: 'state' });
  document.body.dataset.ready = 'true';
}

void main();
