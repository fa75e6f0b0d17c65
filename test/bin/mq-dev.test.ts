/**
 * `mq dev` (the README's main job, `npm start`) as a process: it says what it starts, its demo messages flow
 * from the producer to the consumer at once, and it stops cleanly on its own or on a signal.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMq, spawnMq, type MqProcess } from '../support/mq-process.js';

jest.setTimeout(40_000);

const env = { LOG_LEVEL: 'error' };
const running: MqProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(3000)));
});

/** `12:34:56.789 [send] ...` -> milliseconds since midnight. */
function timeOf(line: string): number {
  const m = /^(\d\d):(\d\d):(\d\d)\.(\d\d\d) /.exec(line);
  if (!m) throw new Error(`no time in ${JSON.stringify(line)}`);
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
}

const storeOf = (firstLine: string): string => /\(store (.+)\), memory transport$/.exec(firstLine)![1]!;

describe('mq dev', () => {
  it('starts a name server and a broker, sends its demo messages, consumes each at once, and exits 0', async () => {
    const r = await runMq(['dev', '--count', '6'], { env, timeoutMs: 20_000 });
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(r.lines[0]).toMatch(/^mq dev: name server ns-1, broker broker-a \(store .+\), memory transport$/);
    const state = r.lines.filter((l) => l.includes(' [state] '));
    expect(state).toContainEqual(expect.stringMatching(/namesrv\.ns-1\s+"serving"$/));
    expect(state).toContainEqual(expect.stringMatching(/broker\.broker-a\.0\s+"serving"$/));
    expect(state).toContainEqual(expect.stringMatching(/broker\.broker-a\.0\s+"stopped"$/));

    const sends = r.lines.filter((l) => l.includes(' [send] '));
    const consumed = r.lines.filter((l) => l.includes(' [consume] '));
    expect(sends).toHaveLength(6);
    expect(sends.every((l) => / queue \d@\d+ SEND_OK$/.test(l))).toBe(true);
    expect(consumed.map((l) => /"order (\d+) (paid|refunded)"$/.exec(l)?.[1]).sort()).toEqual(['0', '1', '2', '3', '4', '5']);
    // every message the producer acknowledged is the one the consumer got
    const sentIds = sends.map((l) => l.split(/\s+/)[2]);
    expect(new Set(consumed.map((l) => l.split(/\s+/)[2]))).toEqual(new Set(sentIds));
    expect(r.lines).toContainEqual(expect.stringMatching(/^mq dev: sent 6, consumed 6 distinct in \d+ ms$/));

    // the first message reaches the consumer without waiting for a rebalance interval (1 s in the demo)
    const firstDelayMs = timeOf(consumed[0]!) - timeOf(sends[0]!);
    expect(firstDelayMs).toBeLessThan(500);

    // its temporary store is gone
    expect(existsSync(storeOf(r.lines[0]!))).toBe(false);
  });

  it('keeps a store given with --store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mq-dev-test-'));
    try {
      const r = await runMq(['dev', '--count', '2', '--store', dir], { env, timeoutMs: 20_000 });
      expect(r).toMatchObject({ code: 0, signal: null });
      expect(storeOf(r.lines[0]!)).toBe(dir);
      expect(readdirSync(dir).length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('stops cleanly on %s while messages flow, and exits %i', async (signal, code) => {
    const dev = spawnMq(['dev', '--count', '1000000'], { env });
    running.push(dev);
    const first = await dev.waitForLine(/^mq dev: name server/, 15_000);
    await dev.waitForLine(/ \[consume\] /, 15_000);
    dev.kill(signal);
    const exit = await dev.waitForExit(15_000);
    expect(exit).toEqual({ code, signal: null });
    expect(dev.stderr).toBe('');
    const lines = dev.lines();
    expect(lines).toContain(`mq dev: ${signal}, stopping`);
    expect(lines).toContainEqual(expect.stringMatching(/^mq dev: sent \d+, consumed \d+ distinct in \d+ ms$/));
    expect(lines).toContainEqual(expect.stringMatching(/broker\.broker-a\.0\s+"stopped"$/));
    expect(lines[lines.length - 1]).toBe('mq dev: stopped');
    expect(existsSync(storeOf(first))).toBe(false);
  });
});
