import * as os from 'node:os';

const byNumber = new Map<number, string>(Object.entries(os.constants.signals).map(([name, nr]) => [nr, name]));

export function signalName(nr: number): string {
  return byNumber.get(nr) ?? `signal ${nr}`;
}
