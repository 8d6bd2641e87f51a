// The timeline page: the run's events on one axis with a slider for the current
// point, and the state there (source line, stack, locals, registers, output so far).
// Every move is a command over the WebSocket to the session (src/ui/session.ts), which
// answers with the state where the replay stopped; the page only draws what it is
// told. Plain DOM: the page is small, and this keeps the bundle free of a framework.

interface TimelineEvent { index: number; tid: number; kind: string; name: string; detail: string }
interface OutputLine { index: number; fd: number; text: string }
interface Timeline { eventCount: number; events: TimelineEvent[]; output: OutputLine[] }
interface Frame { level: number; addr: string; func?: string; fullname?: string; file?: string; line?: number; from?: string }
interface PointState {
  event: number; reason: string; frames: Frame[]; sourceFrame?: number;
  locals: { name: string; value?: string; type?: string }[];
  registers: { name: string; value: string }[]; ended: boolean;
  breakpoints: { file: string; line: number }[];
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const token = new URLSearchParams(location.search).get('token') ?? '';
let timeline: Timeline;
let socket: WebSocket;
let nextId = 1;
const waiting = new Map<number, { resolve: (s: PointState) => void; reject: (e: Error) => void }>();
/** the state last shown: its breakpoints decide whether a click on a line sets or clears one */
let current: PointState | undefined;
const sources = new Map<string, string[]>();
let busy = false;

function command(op: Record<string, unknown>): Promise<PointState> {
  const id = nextId++;
  socket.send(JSON.stringify({ id, ...op }));
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}

/**
 * Runs one move; the page's controls wait while it runs, and show its error. A move
 * that takes a while shows how long it has run and a button that stops it (gdb's
 * interrupt: the move then answers with where the replay stopped).
 */
async function move(op: Record<string, unknown>): Promise<void> {
  if (busy) return;
  busy = true;
  document.body.dataset.busy = 'true';
  const started = Date.now();
  const progress = $('progress');
  const tick = setInterval(() => {
    progress.hidden = false;
    $('elapsed').textContent = `working… ${Math.round((Date.now() - started) / 1000)} s`;
  }, 500);
  $('status').textContent = '';
  try {
    await show(await command(op));
  } catch (e) {
    $('status').textContent = (e as Error).message;
  } finally {
    clearInterval(tick);
    progress.hidden = true;
    busy = false;
    document.body.dataset.busy = 'false';
  }
}

function cancel(): void {
  const id = nextId++;
  socket.send(JSON.stringify({ id, op: 'interrupt' }));
  waiting.set(id, { resolve: () => undefined, reject: (e) => ($('status').textContent = e.message) });
}

function drawAxis(): void {
  const axis = $('axis');
  const span = Math.max(1, timeline.eventCount - 1);
  for (const e of timeline.events) {
    const mark = document.createElement('div');
    mark.className = `mark ${e.kind}`;
    mark.style.left = `${(e.index / span) * 100}%`;
    mark.title = `event ${e.index} [${e.tid}] ${e.detail}`;
    mark.dataset.event = String(e.index);
    axis.append(mark);
  }
  const now = document.createElement('div');
  now.className = 'now';
  now.id = 'now';
  axis.append(now);
  // a mark goes to its event; elsewhere on the axis, to the event at that position
  axis.addEventListener('click', (ev) => {
    const mark = (ev.target as HTMLElement).dataset.event;
    const box = axis.getBoundingClientRect();
    void move({ op: 'seek', event: mark !== undefined ? Number(mark) : Math.round(((ev.clientX - box.left) / box.width) * span) });
  });
  const slider = $<HTMLInputElement>('slider');
  slider.max = String(timeline.eventCount - 1);
  // the replay moves when the drag ends: each seek is a replay, not a redraw
  slider.addEventListener('change', () => void move({ op: 'seek', event: Number(slider.value) }));
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
  $('cancel').addEventListener('click', cancel);
}

async function sourceLines(file: string): Promise<string[]> {
  if (!sources.has(file)) {
    const r = await fetch(`api/source?token=${token}&path=${encodeURIComponent(file)}`);
    sources.set(file, r.ok ? (await r.text()).split('\n') : [`(${await r.text()})`]);
  }
  return sources.get(file)!;
}

async function show(s: PointState): Promise<void> {
  current = s;
  const span = Math.max(1, timeline.eventCount - 1);
  $('now').style.left = `${(Math.max(0, s.event) / span) * 100}%`;
  $<HTMLInputElement>('slider').value = String(Math.max(0, s.event));
  $('where').textContent = s.ended ? `event ${s.event}: the program has ended` : `event ${s.event} (${s.reason})`;
  document.body.dataset.event = String(s.event);
  document.body.dataset.reason = s.reason;

  const frame = s.sourceFrame !== undefined ? s.frames[s.sourceFrame] : undefined;
  const source = $('source');
  source.replaceChildren();
  if (frame?.fullname && frame.line) {
    $('source-title').textContent = `${frame.file ?? frame.fullname}:${frame.line} in ${frame.func ?? '?'}`;
    const file = frame.fullname;
    const lines = await sourceLines(file);
    const marked = new Set(s.breakpoints.filter((b) => b.file === file).map((b) => b.line));
    lines.forEach((text, i) => {
      const n = i + 1;
      const line = document.createElement('span');
      line.className = ['line', n === frame.line ? 'current' : '', marked.has(n) ? 'bp' : ''].filter(Boolean).join(' ');
      line.dataset.n = String(n);
      line.textContent = text || ' ';
      line.title = marked.has(n) ? 'click: clear the breakpoint' : 'click: break here';
      line.addEventListener('click', () => {
        const set = current?.breakpoints.some((b) => b.file === file && b.line === n);
        void move({ op: set ? 'clear' : 'break', file, line: n });
      });
      source.append(line);
    });
    source.querySelector('.current')?.scrollIntoView({ block: 'center' });
  } else {
    $('source-title').textContent = s.frames[0] ? `${s.frames[0].func ?? s.frames[0].addr} (no source)` : 'no program';
  }

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
  drawAxis();
  drawControls();
  socket = new WebSocket(`ws://${location.host}/ws?token=${token}`);
  socket.addEventListener('message', (m) => {
    const answer = JSON.parse(String(m.data)) as { id: number; state?: PointState; done?: true; error?: string };
    const w = waiting.get(answer.id);
    waiting.delete(answer.id);
    if (answer.state) w?.resolve(answer.state);
    else if (answer.done) w?.resolve(undefined as unknown as PointState);
    else w?.reject(new Error(answer.error ?? 'no answer'));
  });
  socket.addEventListener('close', () => ($('status').textContent = 'the rewind ui server has gone'));
  await new Promise((resolve) => socket.addEventListener('open', resolve, { once: true }));
  await move({ op: 'state' });
  document.body.dataset.ready = 'true';
}

void main();
