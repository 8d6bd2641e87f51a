import { describe, expect, it } from 'vitest';
import {
  AckState,
  encodePacket,
  PacketFramer,
  runLengthDecode,
  runLengthEncode,
  type FrameEvent,
} from '../../src/rsp/framing.js';
import { escapeBinary, unescapeBinary } from '../../src/rsp/hex.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const packets = (evs: FrameEvent[]) => evs.filter((e) => e.kind === 'packet').map((e) => (e as { data: Buffer }).data.toString('latin1'));

const QSUPPORTED =
  'qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;memory-tagging+;xmlRegisters=i386';

describe('encodePacket', () => {
  it('frames with a lowercase two-digit checksum', () => {
    expect(encodePacket('OK').toString('latin1')).toBe('$OK#9a');
    expect(encodePacket('').toString('latin1')).toBe('$#00');
    expect(encodePacket('g').toString('latin1')).toBe('$g#67');
    expect(encodePacket(QSUPPORTED).toString('latin1')).toBe(`$${QSUPPORTED}#77`);
  });

  it('escapes $ # } * as } + (byte ^ 0x20), checksum over the escaped bytes', () => {
    const out = encodePacket(Buffer.from([0x24, 0x23, 0x7d, 0x2a, 0x41]));
    expect([...out.subarray(0, 10)]).toEqual([0x24, 0x7d, 0x04, 0x7d, 0x03, 0x7d, 0x5d, 0x7d, 0x0a, 0x41]);
    const body = out.subarray(1, 10);
    const sum = body.reduce((a, x) => a + x, 0) & 0xff;
    expect(out.subarray(10).toString('latin1')).toBe('#' + sum.toString(16).padStart(2, '0'));
  });

  it('round-trips every byte value through the framer', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const evs = new PacketFramer().feed(encodePacket(all));
    expect(evs).toEqual([{ kind: 'packet', data: all }]);
  });
});

describe('run-length encoding', () => {
  it("decodes the manual's example '0* ' as 0000", () => {
    expect(runLengthDecode(b('0* ')).toString()).toBe('0000');
    const frame = b('$0* #' + ((0x30 + 0x2a + 0x20) & 0xff).toString(16));
    expect(packets(new PacketFramer().feed(frame))).toEqual(['0000']);
  });

  it('rejects a marker with nothing before it or a count below 3', () => {
    expect(typeof runLengthDecode(b('*!'))).toBe('string');
    expect(typeof runLengthDecode(b('a*\x1f'))).toBe('string');
    expect(typeof runLengthDecode(b('a*'))).toBe('string');
  });

  it('never emits # $ + - as a count character, and round-trips every run length', () => {
    for (let n = 1; n <= 300; n++) {
      const data = Buffer.alloc(n, 0x30);
      const enc = runLengthEncode(data);
      for (let i = 0; i < enc.length; i++) {
        if (enc[i] === 0x2a) expect(['#', '$', '+', '-']).not.toContain(String.fromCharCode(enc[i + 1]));
      }
      expect(runLengthDecode(enc)).toEqual(data);
      if (n >= 4) expect(enc.length).toBeLessThan(n);
    }
  });

  it('splits runs of 7 and 8 around the forbidden # and $ counts', () => {
    expect(runLengthEncode(b('0000000')).toString('latin1')).toBe('0*"0'); // 1 + 5 + 1
    expect(runLengthEncode(b('00000000')).toString('latin1')).toBe('0*"00'); // 1 + 5 + 2
    expect(runLengthEncode(b('00000')).toString('latin1')).toBe('0*!');
  });

  it('encodePacket with rle runs over the escaped bytes and decodes back', () => {
    const data = Buffer.concat([Buffer.alloc(40, 0), b('}]]]]]**'), Buffer.alloc(9, 0x66)]);
    const frame = encodePacket(data, { rle: true });
    expect(frame.length).toBeLessThan(encodePacket(data).length);
    expect(new PacketFramer().feed(frame)).toEqual([{ kind: 'packet', data }]);
  });
});

describe('PacketFramer', () => {
  it('decodes a real qSupported frame', () => {
    expect(new PacketFramer().feed(b(`$${QSUPPORTED}#77`))).toEqual([{ kind: 'packet', data: b(QSUPPORTED) }]);
  });

  it('reassembles a packet split byte by byte', () => {
    const f = new PacketFramer();
    const frame = b('+$vCont;r401000,401010:p2a.2a;c#ca');
    const evs: FrameEvent[] = [];
    for (const byte of frame) evs.push(...f.feed(Buffer.from([byte])));
    expect(evs).toEqual([{ kind: 'ack' }, { kind: 'packet', data: b('vCont;r401000,401010:p2a.2a;c') }]);
  });

  it('reports acks, nacks, interrupts and skips junk between packets', () => {
    const evs = new PacketFramer().feed(b('junk+\x03$g#67\r\n-xx$OK#9a\x03'));
    expect(evs).toEqual([
      { kind: 'ack' },
      { kind: 'interrupt' },
      { kind: 'packet', data: b('g') },
      { kind: 'nack' },
      { kind: 'packet', data: b('OK') },
      { kind: 'interrupt' },
    ]);
  });

  it('keeps 0x03, + and - inside a packet as data', () => {
    const data = Buffer.from([0x58, 0x03, 0x2b, 0x2d, 0x00, 0xff]);
    expect(new PacketFramer().feed(encodePacket(data))).toEqual([{ kind: 'packet', data }]);
  });

  it('unescapes binary X data', () => {
    // X1000,4: then bytes 0x24 0x23 0x7d 0x2a, escaped as gdb does
    const body = Buffer.concat([b('X1000,4:'), Buffer.from([0x7d, 0x04, 0x7d, 0x03, 0x7d, 0x5d, 0x7d, 0x0a])]);
    const sum = body.reduce((a, x) => a + x, 0) & 0xff;
    const frame = Buffer.concat([b('$'), body, b('#' + sum.toString(16).padStart(2, '0'))]);
    const [ev] = new PacketFramer().feed(frame);
    expect(ev).toEqual({ kind: 'packet', data: Buffer.concat([b('X1000,4:'), Buffer.from([0x24, 0x23, 0x7d, 0x2a])]) });
  });

  it('accepts uppercase checksum digits', () => {
    expect(packets(new PacketFramer().feed(b('$OK#9A')))).toEqual(['OK']);
  });

  it('reports a bad checksum with the payload, then carries on', () => {
    const evs = new PacketFramer().feed(b('$g#68$g#67$OK#zz'));
    expect(evs).toEqual([
      { kind: 'bad-checksum', data: b('g') },
      { kind: 'packet', data: b('g') },
      { kind: 'bad-checksum', data: b('OK') },
    ]);
  });

  it("restarts on a '$' inside a packet, as gdb does", () => {
    expect(packets(new PacketFramer().feed(b('$qSupp$g#67')))).toEqual(['g']);
  });

  it('reports an oversized packet and resynchronises on the next one', () => {
    const f = new PacketFramer(16);
    const evs = [...f.feed(b('$' + 'a'.repeat(10))), ...f.feed(b('a'.repeat(10) + '#00+')), ...f.feed(b('$g#67'))];
    expect(evs.map((e) => e.kind)).toEqual(['error', 'ack', 'packet']);
    expect(packets(evs)).toEqual(['g']);
  });

  it('reports an oversized packet followed directly by another', () => {
    const f = new PacketFramer(8);
    const evs = f.feed(b('$' + 'x'.repeat(20) + '$OK#9a'));
    expect(evs.map((e) => e.kind)).toEqual(['error', 'packet']);
  });

  it('accepts a packet of exactly maxPacketSize bytes', () => {
    const data = b('m'.repeat(32));
    expect(new PacketFramer(32).feed(encodePacket(data))).toEqual([{ kind: 'packet', data }]);
  });

  it('reports a dangling escape as an error', () => {
    const evs = new PacketFramer().feed(b('$a}#' + ((0x61 + 0x7d) & 0xff).toString(16)));
    expect(evs.map((e) => e.kind)).toEqual(['error']);
  });
});

describe('AckState', () => {
  it('acks packets, nacks bad checksums, retransmits on nack', () => {
    const a = new AckState();
    expect(a.onEvent({ kind: 'packet', data: b('g') })?.toString()).toBe('+');
    expect(a.onEvent({ kind: 'bad-checksum', data: b('g') })?.toString()).toBe('-');
    const frame = encodePacket('OK');
    a.sent(frame);
    expect(a.onEvent({ kind: 'nack' })).toBe(frame);
    expect(a.onEvent({ kind: 'ack' })).toBeUndefined();
    expect(a.onEvent({ kind: 'nack' })).toBeUndefined();
  });

  it('QStartNoAckMode: + for the request, then silence both ways', () => {
    const a = new AckState();
    const f = new PacketFramer();
    const [req] = f.feed(b('$QStartNoAckMode#b0'));
    expect(a.onEvent(req)?.toString()).toBe('+');
    a.sent(encodePacket('OK'));
    a.enterNoAck();
    expect(a.noAckMode).toBe(true);
    for (const ev of f.feed(b('+$g#67-'))) expect(a.onEvent(ev)).toBeUndefined();
    expect(a.onEvent({ kind: 'bad-checksum', data: b('x') })).toBeUndefined();
  });
});

describe('binary escaping helpers', () => {
  it('round-trip and reject a dangling escape', () => {
    const data = Buffer.from([0x7d, 0x7d, 0x24, 0, 0x2a, 0x23]);
    expect(unescapeBinary(escapeBinary(data))).toEqual(data);
    expect(unescapeBinary(b('ab}'))).toBeUndefined();
  });
});
