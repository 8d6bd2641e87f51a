// The time axis of the page: the run's events in lanes by kind (process starts and
// exits, signals, output writes, other syscalls, the engine's checkpoints), a view
// window that zooms (buttons, the mouse wheel) and pans (the scrollbar under the
// slider), and the slider that moves the current point within that window. Marks
// closer than a few pixels in one lane are drawn as one cluster that says how many
// events it holds (a click zooms into it), so no mark hides another.
import type { Timeline, TimelineEvent } from './types.js';

/** marks in one lane closer than this many pixels become a cluster */
export const MIN_GAP_PX = 6;
/** the narrowest view: this many events across the axis */
const MIN_SPAN = 8;

const LANES: { name: string; kinds: string[] }[] = [
  { name: 'process', kinds: ['exec', 'exit', 'stop', 'process'] },
  { name: 'signal', kinds: ['signal'] },
  { name: 'output', kinds: ['output'] },
  { name: 'syscall', kinds: ['syscall'] },
  { name: 'checkpoint', kinds: ['checkpoint'] },
];

export interface AxisCallbacks {
  /** go to this event (a mark, the slider, a click on the axis) */
  seek(event: number): void;
  /** the view changed (the plot samples the new window) */
  viewChanged(lo: number, hi: number): void;
}

export class Axis {
  /** the view window, in events (inclusive) */
  lo = 0;
  hi: number;
  private current = 0;
  private checkpoints: number[] = [];
  private readonly last: number;
  private readonly axis = document.getElementById('axis')!;
  private readonly slider = document.getElementById('slider') as HTMLInputElement;
  private readonly track = document.getElementById('scrollbar')!;
  private readonly thumb = document.getElementById('thumb')!;

  constructor(private readonly timeline: Timeline, private readonly on: AxisCallbacks) {
    this.last = Math.max(1, timeline.eventCount - 1);
    this.hi = this.last;
    // a mark goes to its event, a cluster zooms into its events; elsewhere, the event at that position
    this.axis.addEventListener('click', (ev) => {
      const el = ev.target as HTMLElement;
      if (el.dataset.event !== undefined) return this.on.seek(Number(el.dataset.event));
      if (el.dataset.from !== undefined) return this.zoomTo(Number(el.dataset.from) - 1, Number(el.dataset.to) + 1);
      this.on.seek(Math.round(this.eventAt(ev.clientX)));
    });
    this.axis.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      this.zoom(ev.deltaY < 0 ? 0.5 : 2, this.eventAt(ev.clientX));
    }, { passive: false });
    // the replay moves when the drag ends: each seek is a replay, not a redraw. When
    // the current point is outside the view the thumb waits at an end, and a drag
    // to that end changes no value: the release still moves there
    const commit = () => {
      if (Number(this.slider.value) !== this.current) this.on.seek(Number(this.slider.value));
    };
    this.slider.addEventListener('change', commit);
    this.slider.addEventListener('pointerup', commit);
    document.getElementById('zoom-in')!.addEventListener('click', () => this.zoom(0.5, this.current));
    document.getElementById('zoom-out')!.addEventListener('click', () => this.zoom(2, this.current));
    document.getElementById('zoom-all')!.addEventListener('click', () => this.zoomTo(0, this.last));
    this.dragThumb();
    window.addEventListener('resize', () => this.draw());
    this.draw();
  }

  /** The current point and the engine's checkpoints after a move. */
  show(event: number, checkpoints: number[]): void {
    this.current = Math.max(0, event);
    this.checkpoints = checkpoints;
    // a move out of the view (a continue, a reverse search) brings the view along
    if (this.current < this.lo || this.current > this.hi) {
      const span = this.hi - this.lo;
      this.setView(this.current - span / 2, this.current + span / 2, false);
    }
    this.draw();
  }

  /** Zooms by FACTOR (< 1: in) keeping the event AT where it is on the axis. */
  zoom(factor: number, at: number): void {
    const span = Math.max(MIN_SPAN, (this.hi - this.lo) * factor);
    const frac = this.hi > this.lo ? (at - this.lo) / (this.hi - this.lo) : 0.5;
    this.zoomTo(at - frac * span, at - frac * span + span);
  }

  zoomTo(lo: number, hi: number): void {
    this.setView(lo, Math.max(hi, lo + MIN_SPAN), true);
    this.draw();
  }

  private setView(lo: number, hi: number, announce: boolean): void {
    const span = Math.min(this.last, Math.max(MIN_SPAN, hi - lo));
    const start = Math.min(Math.max(0, lo), this.last - span);
    this.lo = Math.round(start);
    this.hi = Math.round(start + span);
    if (announce) this.on.viewChanged(this.lo, this.hi);
  }

  private eventAt(clientX: number): number {
    const box = this.axis.getBoundingClientRect();
    return this.lo + ((clientX - box.left) / box.width) * (this.hi - this.lo);
  }

  /** The scrollbar's thumb pans the view; a click on its track centres the view there. */
  private dragThumb(): void {
    let grab: { x: number; lo: number } | undefined;
    this.thumb.addEventListener('pointerdown', (ev) => {
      grab = { x: ev.clientX, lo: this.lo };
      this.thumb.setPointerCapture(ev.pointerId);
      ev.stopPropagation();
    });
    this.thumb.addEventListener('pointermove', (ev) => {
      if (!grab) return;
      const per = this.last / this.track.getBoundingClientRect().width;
      const span = this.hi - this.lo;
      this.setView(grab.lo + (ev.clientX - grab.x) * per, grab.lo + (ev.clientX - grab.x) * per + span, false);
      this.draw();
    });
    this.thumb.addEventListener('pointerup', () => {
      if (grab) this.on.viewChanged(this.lo, this.hi);
      grab = undefined;
    });
    this.track.addEventListener('pointerdown', (ev) => {
      if (ev.target !== this.track) return;
      const box = this.track.getBoundingClientRect();
      const at = ((ev.clientX - box.left) / box.width) * this.last;
      const span = this.hi - this.lo;
      this.zoomTo(at - span / 2, at + span / 2);
    });
  }

  private draw(): void {
    const width = this.axis.getBoundingClientRect().width || 1;
    const span = Math.max(1, this.hi - this.lo);
    // the last event's mark stays inside the axis
    const x = (e: number) => ((e - this.lo) / span) * (width - 3);
    const events: (TimelineEvent | { index: number; kind: 'checkpoint'; name: string; detail: string; tid: number })[] = [
      ...this.timeline.events,
      ...this.checkpoints.map((e) => ({ index: e, kind: 'checkpoint' as const, name: 'checkpoint', detail: 'a checkpoint the engine keeps', tid: 0 })),
    ];
    const children: HTMLElement[] = [];
    LANES.forEach((lane, row) => {
      const inView = events.filter((e) => lane.kinds.includes(e.kind) && e.index >= this.lo && e.index <= this.hi).sort((a, b) => a.index - b.index);
      for (let i = 0; i < inView.length;) {
        let j = i + 1;
        while (j < inView.length && x(inView[j].index) - x(inView[i].index) < MIN_GAP_PX) j++;
        const group = inView.slice(i, j);
        const el = document.createElement('div');
        el.style.left = `${x(group[0].index)}px`;
        el.style.top = `${row * 12 + 1}px`;
        el.dataset.lane = lane.name;
        if (group.length === 1) {
          const e = group[0];
          el.className = `mark ${e.kind}`;
          el.title = `event ${e.index} [${e.tid}] ${e.detail}`;
          el.dataset.event = String(e.index);
        } else {
          const to = group[group.length - 1].index;
          el.className = `cluster ${lane.name}`;
          el.style.width = `${Math.max(MIN_GAP_PX, x(to) - x(group[0].index) + 2)}px`;
          el.title = `${group.length} events ${group[0].index} to ${to} (click: zoom in)\n` +
            group.slice(0, 8).map((e) => `event ${e.index} ${e.detail}`).join('\n') + (group.length > 8 ? '\n…' : '');
          el.dataset.from = String(group[0].index);
          el.dataset.to = String(to);
          el.dataset.count = String(group.length);
        }
        children.push(el);
        i = j;
      }
    });
    const now = document.createElement('div');
    now.className = 'now';
    now.id = 'now';
    now.hidden = this.current < this.lo || this.current > this.hi;
    now.style.left = `${x(this.current)}px`;
    children.push(now);
    this.axis.replaceChildren(...children);

    this.slider.min = String(this.lo);
    this.slider.max = String(this.hi);
    this.slider.value = String(Math.min(this.hi, Math.max(this.lo, this.current)));
    this.thumb.style.left = `${(this.lo / this.last) * 100}%`;
    this.thumb.style.width = `${Math.max(1, ((this.hi - this.lo) / this.last) * 100)}%`;
    document.getElementById('view-range')!.textContent = `events ${this.lo} to ${this.hi} of ${this.timeline.eventCount}`;
  }
}
