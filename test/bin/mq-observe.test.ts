/**
 * `mq observe` as people run it: the live table in a pseudo-terminal over a NATS cluster of separate `mq`
 * processes (its first screen lists every actor), one JSON line per record with --json, attached to the web
 * console of a running `mq dev --web`, and its mistakes as one clear line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { runMq, spawnMq, type MqProcess } from '../support/mq-process.js';

jest.setTimeout(60_000);

let nats: NatsServer;
let dir: string;
const running: MqProcess[] = [];
const start = (args: string[], opts: Parameters<typeof spawnMq>[1] = {}): MqProcess => {
  const p = spawnMq(args, opts);
  running.push(p);
  return p;
};

beforeAll(async () => {
  nats = await startNatsServer();
  dir = mkdtempSync(join(tmpdir(), 'mq-observe-'));
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(3000)));
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The screens a terminal was sent: each starts with cursor-home and ends with clear-to-end. */
function screens(out: string): string[] {
  return out
    .split('\x1b[H')
    .slice(1)
    .filter((s) => s.includes('\x1b[J'))
    .map((s) => s.slice(0, s.indexOf('\x1b[J')).replace(/\x1b\[K/g, '').replace(/\r/g, ''));
}

describe('mq observe over NATS', () => {
  const conn = (): string[] => ['--nats', nats.url, '--prefix', 'obs'];
  let consumer: MqProcess;

  beforeAll(async () => {
    const ns = start(['namesrv', '--id', 'ns-1', ...conn()]);
    await ns.waitForLine(/ready/, 20_000);
    const broker = start(['broker', '--name', 'broker-a', '--namesrv', 'ns-1', '--store', join(dir, 'a'), ...conn()]);
    await broker.waitForLine(/ready/, 30_000);
    const produced = await runMq(['produce', '--namesrv', 'ns-1', '--topic', 'orders', '--count', '20', ...conn()]);
    expect(produced.code).toBe(0);
    consumer = start(['consume', '--namesrv', 'ns-1', '--group', 'billing', '--topic', 'orders', '--json', ...conn()]);
    await consumer.waitForLine(/"msgId"/, 20_000);
  }, 60_000);

  it('draws a table in a terminal whose first screen lists every actor and broker of the cluster', async () => {
    const obs = start(['observe', ...conn()], { terminal: { columns: 160, rows: 40 }, stdin: true });
    await obs.waitForLine(/broker-a\/0/, 15_000);
    const first = screens(obs.stdout)[0]!;
    expect(first).toMatch(/^mq observe nats:\/\/.* · 3 actors in 3 processes · dropped 0/);
    expect(first).toMatch(/ACTOR +MACHINE +STATE +LAST EVENT +AGE +PROCESS/);
    expect(first).toMatch(/namesrv\.ns-1 +namesrv +serving/);
    expect(first).toMatch(/broker\.broker-a\.0 +broker +serving/);
    expect(first).toMatch(/client\.consumer-[0-9a-f]+ +client +running/);
    // the broker's own table: max and flushed offsets, dispatch lag, role
    expect(first).toMatch(/BROKER +ROLE +HEALTH +MAX OFFSET +FLUSHED +DISPATCH LAG +REPL LAG/);
    expect(first).toMatch(/broker-a\/0 +master +ok +[\d,]+ +[\d,]+ +0 B/);
    // it keeps redrawing in place; Ctrl-C ends it and gives the cursor back
    await new Promise((r) => setTimeout(r, 1200));
    expect(screens(obs.stdout).length).toBeGreaterThan(1);
    obs.write('\x03');
    await obs.waitForExit(10_000);
    expect(obs.stdout).toContain('\x1b[?25h');
  });

  it('prints one JSON line per record with --json: definitions, starts, states and figures', async () => {
    const obs = start(['observe', '--json', ...conn()]);
    await obs.waitForLine(/"kind":"stats".*"role":"broker"/, 15_000);
    const records = obs.lines().map((l) => JSON.parse(l) as { kind: string; source: string; address: string; machine?: string; definition?: { id: string } });
    expect(records.find((r) => r.kind === 'machine' && r.definition?.id === 'broker')).toBeDefined();
    expect(records.find((r) => r.kind === 'actor' && r.address === 'broker.broker-a.0')).toMatchObject({ machine: 'broker', source: expect.stringMatching(/^broker-broker-a-0\.\d+$/) });
    obs.kill('SIGINT');
    await obs.waitForExit(10_000);
  });
});

describe('mq observe attached to mq dev --web', () => {
  it("watches the embedded cluster through its console's stream", async () => {
    const dev = start(['dev', '--web', '127.0.0.1:0', '--count', '5'], { stdin: true });
    const url = /web console at (\S+)/.exec(await dev.waitForLine(/web console at /, 20_000))![1]!;
    await dev.waitForLine(/keeps running/, 30_000);
    const obs = start(['observe', '--attach', url], { terminal: { columns: 160, rows: 40 } });
    await obs.waitForLine(/broker-a\/0/, 15_000);
    const first = screens(obs.stdout)[0]!;
    expect(first).toMatch(/^mq observe http:\/\/127\.0\.0\.1:\d+\S* · 4 actors in 1 processes/);
    for (const actor of [/namesrv\.ns-1 +namesrv +serving/, /broker\.broker-a\.0 +broker +serving/, /client\.producer-[0-9a-f]+ +client +running/, /client\.consumer-[0-9a-f]+ +client +running/])
      expect(first).toMatch(actor);
    obs.kill('SIGINT');
    await obs.waitForExit(10_000);
    dev.kill('SIGINT');
    await dev.waitForExit(15_000);
  });
});

describe('mq observe mistakes', () => {
  it('says what to do in one line', async () => {
    const cases: [string[], RegExp][] = [
      [['observe', '--trace', 'run.jsonl'], /time travel over a trace is in the web console: add --web HOST:PORT/],
      [['observe', '--attach', 'not a url'], /--attach: "not a url" is not a URL/],
      [['observe', '--attach', 'http://127.0.0.1:1'], /cannot reach a console at http:\/\/127\.0\.0\.1:1 .*mq dev --web/],
      [['observe', '--nats', 'nats://127.0.0.1:1', '--connect-timeout', '500'], /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1|unreachable/],
    ];
    const runs = await Promise.all(cases.map(([args]) => runMq(args)));
    runs.forEach((r, i) => {
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(cases[i]![1]);
    });
  });
});
