// What the page receives from `rewind ui` (src/ui/timeline.ts, src/ui/session.ts),
// as the page sees it: the trace's timeline once, a state after every move.
export interface TimelineEvent { index: number; tid: number; kind: string; name: string; detail: string }
export interface OutputLine { index: number; fd: number; text: string }
export interface Timeline { eventCount: number; events: TimelineEvent[]; output: OutputLine[] }
export interface Frame { level: number; addr: string; func?: string; fullname?: string; file?: string; line?: number; from?: string }
export interface PointState {
  event: number; reason: string; frames: Frame[]; sourceFrame?: number;
  locals: { name: string; value?: string; type?: string }[];
  registers: { name: string; value: string }[]; ended: boolean;
  breakpoints: { file: string; line: number; condition?: string }[];
  checkpoints: number[];
  disassembly?: { address: string; text: string; symbol?: string; current: boolean }[];
  watch?: { exp: string; old?: string; new?: string };
}
export interface Sample { event: number; value?: string }
