/** The progress bar of `mq produce` / `mq consume --count`: a no-op off a terminal, count, rate and ETA on one. */
import { Writable } from 'node:stream';
import { formatRate, progressWanted, startProgress, type ProgressStream } from '../../../bin/commands/progress.js';

/** A stream that records what is written; a terminal when `tty` is true. */
function fakeStream(tty: boolean): ProgressStream & { text: () => string } {
  const chunks: string[] = [];
  const s = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  }) as Writable & { isTTY?: boolean; columns?: number; text: () => string };
  if (tty) {
    s.isTTY = true;
    s.columns = 120;
  }
  s.text = () => chunks.join('');
  return s;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
// eslint-disable-next-line no-control-regex
const plain = (s: string): string => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\u001b[78]/g, '');

describe('progressWanted', () => {
  it('only on a terminal, without --json, and not on TERM=dumb', () => {
    expect(progressWanted({ stream: fakeStream(true), env: {} })).toBe(true);
    expect(progressWanted({ stream: fakeStream(false), env: {} })).toBe(false);
    expect(progressWanted({ stream: fakeStream(true), json: true, env: {} })).toBe(false);
    expect(progressWanted({ stream: fakeStream(true), env: { TERM: 'dumb' } })).toBe(false);
  });
});

describe('formatRate', () => {
  it('rounds, with one decimal under 10', () => {
    expect(formatRate(1234.5)).toBe('1235');
    expect(formatRate(2.345)).toBe('2.3');
    expect(formatRate(0)).toBe('0');
    expect(formatRate(Number.NaN)).toBe('0');
  });
});

describe('startProgress', () => {
  it.each([
    ['not a terminal', { stream: false, json: false }],
    ['--json', { stream: true, json: true }],
  ])('is a no-op when %s: nothing on the stream, lines go to out as they are', async (_name, c) => {
    const stream = fakeStream(c.stream);
    const out = fakeStream(c.stream);
    const p = startProgress({ total: 10, label: 'sent', json: c.json, stream, out, env: {} });
    expect(p.active).toBe(false);
    p.increment(3);
    p.line('a message');
    await sleep(30);
    p.stop();
    expect(stream.text()).toBe('');
    expect(out.text()).toBe('a message\n');
  });

  it('draws count, percentage, rate and ETA on a terminal, and ends on its own line', async () => {
    const stream = fakeStream(true);
    const p = startProgress({ total: 100, label: 'sent', stream, out: fakeStream(false), env: {}, fps: 50 });
    expect(p.active).toBe(true);
    for (let i = 0; i < 5; i++) {
      await sleep(60);
      p.increment(10);
    }
    await sleep(60);
    // each redraw starts at column 0 (ESC [1G)
    const frames = stream.text().split('\u001b[1G').map(plain);
    expect(frames).toContainEqual(expect.stringMatching(/^sent \[=+-+\] 50% \| 50\/100 \| \d+(\.\d)? msgs\/s \| ETA \d+s$/));
    p.stop();
    p.stop();
    const end = plain(stream.text());
    expect(end.endsWith('\n')).toBe(true);
    expect(end.split('\n').filter((l) => l.length > 0).pop()).toMatch(/50\/100/);
  });

  it('lifts the bar off its line for a line on the same terminal, then draws it below', async () => {
    const tty = fakeStream(true);
    const p = startProgress({ total: 2, label: 'received', stream: tty, out: tty, env: {} });
    p.increment();
    p.line('first message');
    const text = tty.text();
    const at = text.indexOf('first message\n');
    expect(at).toBeGreaterThan(0);
    // the bar line is cleared (cursor to column 0, erase line) right before the message ...
    expect(text.slice(0, at)).toMatch(/\u001b\[1G\u001b\[2K$/);
    // ... and drawn again after it
    expect(plain(text.slice(at))).toMatch(/received \[.*\] 50% \| 1\/2/);
    p.stop();
  });
});
