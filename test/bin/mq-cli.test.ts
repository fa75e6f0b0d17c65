/**
 * The built `mq` command line against a private nats-server: flag errors, unreachable NATS, and a name
 * server + broker + admin + produce + consume round trip, each role in its own process.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { RealClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { natsTransport, type NatsTransport } from '../../transports/nats.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { hasScript, runMq, runMqInTerminal, spawnMq, type MqProcess, type MqRun } from '../support/mq-process.js';

jest.setTimeout(60_000);

let nats: NatsServer;
let storeDir: string;
const running: MqProcess[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  storeDir = mkdtempSync(join(tmpdir(), 'mq-cli-'));
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(3000)));
  await nats?.stop();
  if (storeDir) rmSync(storeDir, { recursive: true, force: true });
});

function expectOneLineError(r: MqRun, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^mq: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const BAD_FLAGS: [string[], RegExp][] = [
  [['namesrv'], /required option '--id/],
  [['produce', '--namesrv', 'ns-1', '--topic', 'T', '--count', 'abc'], /--count.*expected a positive integer, got "abc"/],
  [['produce', '--namesrv', 'ns-1', '--topic', 'T', '--count', '-3'], /--count|unknown option/],
  [['broker', '--name', 'b', '--namesrv', 'ns-1', '--store', '/nonexistent', '--flush', 'maybe'], /--flush.*expected sync or async, got "maybe"/],
  [['broker', '--name', 'b', '--namesrv', 'ns 1', '--store', '/nonexistent'], /name server id "ns 1"/],
  [['broker', '--name', 'b', '--namesrv', 'ns-1', '--store', '/nonexistent', '--direct', '127.0.0.1'], /--direct.*expected HOST:PORT .*got "127\.0\.0\.1"/],
  [['broker', '--name', 'b', '--namesrv', 'ns-1', '--store', '/nonexistent', '--direct', 'h:70000'], /--direct.*expected HOST:PORT/],
  [['broker', '--name', 'b', '--namesrv', 'ns-1', '--store', '/nonexistent', '--metrics', 'localhost'], /--metrics.*expected HOST:PORT .*got "localhost"/],
  [['broker', '--name', 'b', '--namesrv', 'ns-1', '--store', '/nonexistent', '--metrics', '127.0.0.1:x'], /--metrics.*expected HOST:PORT/],
  [['consume', '--namesrv', 'ns-1', '--topic', 'T'], /required option '--group/],
  [['broker', '--name', 'b', '--namesrv', 'ns-1', '--store', '/nonexistent', '--store-mode', 'logs'], /--store-mode.*expected mixed or per-queue, got "logs"/],
  [['admin', 'message', '--namesrv', 'ns-1', '--id', 'AB', '--key', 'k'], /cannot be used with/],
  [['admin', 'message', '--namesrv', 'ns-1'], /give --id ID, or --key KEY --topic TOPIC/],
  [['frobnicate'], /unknown command 'frobnicate'/],
];

describe('bad flags', () => {
  // all at once: each is a process start, checked before anything connects
  let results: MqRun[] = [];
  beforeAll(async () => {
    results = await Promise.all(BAD_FLAGS.map(([args]) => runMq(args)));
  });

  it.each(BAD_FLAGS.map(([args, pattern], i) => [args.join(' '), pattern, i] as const))('mq %s fails with one line', (_args, pattern, i) => {
    const r = results[i]!;
    expectOneLineError(r, pattern);
    expect(r.stdout).toBe('');
  });
});

describe('unreachable NATS', () => {
  it('fails fast with a clear line when nothing listens', async () => {
    const free = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const r = await runMq(['admin', 'cluster', '--namesrv', 'ns-1', '--nats', `nats://127.0.0.1:${free}`]);
    expectOneLineError(r, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/);
    expect(r.durationMs).toBeLessThan(5000);
  });

  it('gives up after --connect-timeout when the server never answers', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => sockets.add(s)); // accepts, never speaks NATS
    const port = await new Promise<number>((resolve) => silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)));
    try {
      const r = await runMq(['admin', 'topic', 'list', '--namesrv', 'ns-1', '--nats', `nats://127.0.0.1:${port}`, '--connect-timeout', '500']);
      expectOneLineError(r, /cannot connect to NATS .*(500 ms|timeout)/i);
      expect(r.durationMs).toBeLessThan(5000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('a cluster of processes', () => {
  const conn = (): string[] => ['--nats', nats.url];

  it('runs a name server, a broker, admin commands, a producer and a consumer', async () => {
    const ns = spawnMq(['namesrv', '--id', 'ns-1', ...conn()]);
    running.push(ns);
    await ns.waitForLine(/^namesrv ns-1 ready$/, 10_000);

    const empty = await runMq(['admin', 'cluster', '--namesrv', 'ns-1', '--json', ...conn()]);
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.lines[0]!)).toEqual({ brokerAddrTable: {}, clusterAddrTable: {} });

    const broker = spawnMq(['broker', '--name', 'broker-a', '--namesrv', 'ns-1', '--store', join(storeDir, 'broker-a'), '--flush', 'sync', ...conn()]);
    running.push(broker);
    await broker.waitForLine(/^broker broker-a ready as async master$/, 15_000);

    const cluster = await runMq(['admin', 'cluster', '--namesrv', 'ns-1', ...conn()]);
    expect(cluster.code).toBe(0);
    expect(cluster.stdout).toMatch(/DefaultCluster\s+broker-a\s+0\s+master\s+broker\.broker-a\.0/);
    const status = await runMq(['admin', 'broker', '--namesrv', 'ns-1', ...conn()]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/BROKER\s+STORE\s+WRITTEN\s+FLUSHED\s+TO INDEX\s+CORRUPT BYTES\nbroker\.broker-a\.0\s+ok\s+\d+\s+\d+\s+0\s+0/);

    const created = await runMq(['admin', 'topic', 'create', '--topic', 'cli-orders', '--queues', '2', '--namesrv', 'ns-1', ...conn()]);
    expect(created.stderr).toBe('');
    expect(created.stdout).toMatch(/created topic cli-orders \(2 read \/ 2 write queues, RW\) on broker-a/);

    let route: MqRun | undefined;
    for (let i = 0; i < 20; i++) {
      route = await runMq(['admin', 'topic', 'route', '--topic', 'cli-orders', '--namesrv', 'ns-1', '--json', ...conn()]);
      if (route.code === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(route!.code).toBe(0);
    const routeBody = JSON.parse(route!.lines[0]!) as { queueDatas: { brokerName: string; writeQueueNums: number }[] };
    expect(routeBody.queueDatas).toEqual([expect.objectContaining({ brokerName: 'broker-a', writeQueueNums: 2 })]);

    const list = await runMq(['admin', 'topic', 'list', '--namesrv', 'ns-1', ...conn()]);
    expect(list.lines).toContain('cli-orders');

    const produced = await runMq(['produce', '--namesrv', 'ns-1', '--topic', 'cli-orders', '--count', '20', '--key-prefix', 'key-', '--json', ...conn()]);
    expect(produced.stderr).toBe('');
    expect(produced.code).toBe(0);
    expect(produced.lines).toHaveLength(21);
    const acks = produced.lines.slice(0, 20).map((l) => JSON.parse(l) as { msgId: string; queueId: number; queueOffset: number });
    for (const a of acks) {
      expect(typeof a.msgId).toBe('string');
      expect([0, 1]).toContain(a.queueId);
      expect(a.queueOffset).toBeGreaterThanOrEqual(0);
    }
    expect(new Set(acks.map((a) => a.msgId)).size).toBe(20);
    expect(JSON.parse(produced.lines[20]!)).toEqual({ summary: expect.objectContaining({ sent: 20, acknowledged: 20, failed: 0 }) });

    const consumed = await runMq(['consume', '--namesrv', 'ns-1', '--group', 'cli-group', '--topic', 'cli-orders', '--count', '20', '--timeout', '15000', '--json', ...conn()]);
    expect(consumed.stderr).toBe('');
    expect(consumed.code).toBe(0);
    const msgs = consumed.lines.map((l) => JSON.parse(l) as { msgId: string; topic: string; body: string });
    expect(msgs).toHaveLength(20);
    expect(new Set(msgs.map((m) => m.msgId))).toEqual(new Set(acks.map((a) => a.msgId)));
    expect(msgs.every((m) => m.topic === 'cli-orders' && /^message \d+$/.test(m.body))).toBe(true);

    const byId = await runMq(['admin', 'message', '--id', acks[3]!.msgId, '--namesrv', 'ns-1', '--json', ...conn()]);
    expect(byId.code).toBe(0);
    expect(JSON.parse(byId.lines[0]!)).toEqual(expect.objectContaining({ msgId: acks[3]!.msgId, topic: 'cli-orders' }));

    const byKey = await runMq(['admin', 'message', '--key', 'key-7', '--topic', 'cli-orders', '--namesrv', 'ns-1', '--json', ...conn()]);
    expect(byKey.code).toBe(0);
    expect(JSON.parse(byKey.lines[0]!)).toEqual(expect.objectContaining({ keys: ['key-7'], body: 'message 7' }));

    const progress = await runMq(['admin', 'consumer', 'progress', 'cli-group', '--namesrv', 'ns-1', '--json', ...conn()]);
    expect(progress.code).toBe(0);
    const p = JSON.parse(progress.lines[0]!) as { queues: { topic: string; brokerOffset: number }[] };
    expect(p.queues.filter((q) => q.topic === 'cli-orders').reduce((s, q) => s + q.brokerOffset, 0)).toBe(20);

    const brokerExit = await broker.stop(8000);
    expect(brokerExit).toEqual({ code: 0, signal: null });
    const nsExit = await ns.stop(8000);
    expect(nsExit).toEqual({ code: 0, signal: null });
  });

  it('a broker started before its name servers is ready once one has it, says which it waits for, and registers with each as it starts', async () => {
    // the default register interval (30 s): what makes it quick is the name servers' start announcement
    const broker = spawnMq(['broker', '--name', 'broker-e', '--namesrv', 'ns-e1,ns-e2', '--store', join(storeDir, 'broker-e'), ...conn()], { env: { LOG_LEVEL: 'warn' } });
    running.push(broker);
    const until = Date.now() + 15_000;
    while (!broker.errorLines().some((l) => l.includes('registration failed')) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(broker.errorLines().some((l) => l.includes('registration failed'))).toBe(true);
    expect(broker.lines()).toEqual([]); // serving, but no name server has it: not ready yet

    const ns1 = spawnMq(['namesrv', '--id', 'ns-e1', ...conn()]);
    running.push(ns1);
    await ns1.waitForLine(/^namesrv ns-e1 ready$/, 10_000);
    const ns1At = Date.now();
    await broker.waitForLine(/^broker broker-e ready as async master \(registered with ns-e1; waiting for ns-e2\)$/, 10_000);
    const readyAfterMs = Date.now() - ns1At;
    const cluster = await runMq(['admin', 'cluster', '--namesrv', 'ns-e1', ...conn()]);
    expect(cluster.stdout).toMatch(/broker-e\s+0\s+master\s+broker\.broker-e\.0/);

    const ns2 = spawnMq(['namesrv', '--id', 'ns-e2', ...conn()]);
    running.push(ns2);
    await ns2.waitForLine(/^namesrv ns-e2 ready$/, 10_000);
    const ns2At = Date.now();
    await broker.waitForLine(/^broker broker-e registered with ns-e2$/, 10_000);
    const registeredAfterMs = Date.now() - ns2At;
    process.stderr.write(`broker before its name servers: ready ${readyAfterMs} ms after ns-e1, registered ${registeredAfterMs} ms after ns-e2\n`);
    expect(readyAfterMs).toBeLessThan(3_000);
    expect(registeredAfterMs).toBeLessThan(3_000);

    expect(await broker.stop(8000)).toEqual({ code: 0, signal: null });
    expect(await ns1.stop(8000)).toEqual({ code: 0, signal: null });
    expect(await ns2.stop(8000)).toEqual({ code: 0, signal: null });
  });

  (hasScript() ? it : it.skip)('produce and consume --count draw a progress bar on a terminal only, and none with --json', async () => {
    const ns = spawnMq(['namesrv', '--id', 'ns-p', ...conn()]);
    running.push(ns);
    await ns.waitForLine(/^namesrv ns-p ready$/, 10_000);
    const broker = spawnMq(['broker', '--name', 'broker-p', '--namesrv', 'ns-p', '--store', join(storeDir, 'broker-p'), ...conn()]);
    running.push(broker);
    await broker.waitForLine(/^broker broker-p ready as async master$/, 15_000);
    const created = await runMq(['admin', 'topic', 'create', '--topic', 'cli-progress', '--queues', '2', '--namesrv', 'ns-p', ...conn()]);
    expect(created.code).toBe(0);
    const topicArgs = ['--namesrv', 'ns-p', '--topic', 'cli-progress', ...conn()];
    let produced: MqRun | undefined;
    for (let i = 0; i < 20; i++) {
      produced = await runMqInTerminal(['produce', ...topicArgs, '--count', '300']);
      if (produced.code === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(produced!.code).toBe(0);
    // eslint-disable-next-line no-control-regex
    const frames = (out: string): string[] => out.split('\u001b[1G').map((f) => f.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').trim());
    const bar = (label: string, n: number): RegExp => new RegExp(`^${label} \\[=+\\] 100% \\| ${n}/${n} \\| \\d+(\\.\\d)? msgs/s \\| ETA 0s`);
    expect(frames(produced!.stdout)).toContainEqual(expect.stringMatching(bar('sent', 300)));
    expect(produced!.stdout).toMatch(/sent 300, acknowledged 300, failed 0/);

    const consumed = await runMqInTerminal(['consume', ...topicArgs, '--group', 'cli-progress-group', '--count', '300', '--timeout', '15000']);
    expect(consumed.code).toBe(0);
    expect(frames(consumed.stdout)).toContainEqual(expect.stringMatching(bar('received', 300)));
    expect(consumed.stdout.match(/cli-progress\/\d@\d+ \S+ "message \d+"/g)).toHaveLength(300);

    // none with --json, nor off a terminal
    const json = await runMqInTerminal(['produce', ...topicArgs, '--count', '5', '--json']);
    expect(json.code).toBe(0);
    expect(json.stdout).not.toMatch(/sent \[|\u001b/);
    expect(json.lines.map((l) => JSON.parse(l) as object)).toHaveLength(6);
    const piped = await runMq(['produce', ...topicArgs, '--count', '5']);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toMatch(/^sent 5, acknowledged 5, failed 0 in /);

    expect(await broker.stop(8000)).toEqual({ code: 0, signal: null });
    expect(await ns.stop(8000)).toEqual({ code: 0, signal: null });
  });

  it('a broker with --metrics serves Prometheus metrics, says where, and counts what a producer sent', async () => {
    const ns = spawnMq(['namesrv', '--id', 'ns-m', ...conn()]);
    running.push(ns);
    await ns.waitForLine(/^namesrv ns-m ready$/, 10_000);
    const broker = spawnMq(['broker', '--name', 'broker-m', '--namesrv', 'ns-m', '--store', join(storeDir, 'broker-m'), '--metrics', '127.0.0.1:0', ...conn()]);
    running.push(broker);
    const line = await broker.waitForLine(/^broker broker-m metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/, 15_000);
    await broker.waitForLine(/^broker broker-m ready as async master$/, 15_000);
    const url = line.slice(line.indexOf('http'));
    const produced = await runMq(['produce', '--namesrv', 'ns-m', '--topic', 'metered', '--count', '5', '--size', '10', ...conn()]);
    expect(produced.code).toBe(0);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^actormq_messages_in_total\{broker="broker-m\/0",topic="metered"\} 5$/m);
    expect(text).toMatch(/^actormq_bytes_in_total\{broker="broker-m\/0",topic="metered"\} 50$/m);
    expect(text).toMatch(/^actormq_commitlog_size_bytes\{broker="broker-m\/0"\} [1-9]\d*$/m);

    // the port is taken now: a second broker says so in one line and exits
    const port = new URL(url).port;
    const clash = await runMq(['broker', '--name', 'broker-m2', '--namesrv', 'ns-m', '--store', join(storeDir, 'broker-m2'), '--metrics', `127.0.0.1:${port}`, ...conn()]);
    expectOneLineError(clash, new RegExp(`--metrics 127\\.0\\.0\\.1:${port}: cannot serve metrics there \\(.*EADDRINUSE`));

    expect(await broker.stop(8000)).toEqual({ code: 0, signal: null });
    expect(await ns.stop(8000)).toEqual({ code: 0, signal: null });
  });

  it('a broker with --store-mode per-queue keeps a log per queue and serves produce and consume', async () => {
    const ns = spawnMq(['namesrv', '--id', 'ns-q', ...conn()]);
    running.push(ns);
    await ns.waitForLine(/^namesrv ns-q ready$/, 10_000);
    const store = join(storeDir, 'broker-q');
    const broker = spawnMq(['broker', '--name', 'broker-q', '--namesrv', 'ns-q', '--store', store, '--store-mode', 'per-queue', ...conn()]);
    running.push(broker);
    await broker.waitForLine(/^broker broker-q ready as async master$/, 15_000);
    expect((await runMq(['admin', 'topic', 'create', '--topic', 'per-queue', '--queues', '2', '--namesrv', 'ns-q', ...conn()])).code).toBe(0);
    let produced: MqRun | undefined;
    for (let i = 0; i < 20; i++) {
      // one send at a time: each its own turn, so the queues take turns (the sends of one turn go to one queue)
      produced = await runMq(['produce', '--namesrv', 'ns-q', '--topic', 'per-queue', '--count', '10', '--concurrency', '1', ...conn()]);
      if (produced.code === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(produced!.code).toBe(0);
    const consumed = await runMq(['consume', '--namesrv', 'ns-q', '--group', 'pq-group', '--topic', 'per-queue', '--count', '10', '--timeout', '15000', '--json', ...conn()]);
    expect(consumed.code).toBe(0);
    expect(consumed.lines.filter((l) => l.startsWith('{'))).toHaveLength(10);
    // a log for each of the topic's queues, beside the broker's own (retry, schedule ...)
    expect(readdirSync(join(store, 'logs')).length).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(store, 'commitlog'))).toBe(false);
    expect(await broker.stop(8000)).toEqual({ code: 0, signal: null });
    expect(await ns.stop(8000)).toEqual({ code: 0, signal: null });
  });

  it('a broker serves its clients over direct links unless told --no-direct', async () => {
    const ns = spawnMq(['namesrv', '--id', 'ns-d', ...conn()]);
    running.push(ns);
    await ns.waitForLine(/^namesrv ns-d ready$/, 10_000);
    const direct = spawnMq(['broker', '--name', 'broker-d', '--namesrv', 'ns-d', '--store', join(storeDir, 'broker-d'), ...conn()]);
    const plain = spawnMq(['broker', '--name', 'broker-n', '--namesrv', 'ns-d', '--store', join(storeDir, 'broker-n'), '--no-direct', ...conn()]);
    running.push(direct, plain);
    await Promise.all([direct.waitForLine(/^broker broker-d ready as async master$/, 15_000), plain.waitForLine(/^broker broker-n ready as async master$/, 15_000)]);
    const client = (await natsTransport({ servers: nats.url })({ clock: new RealClock(), random: new SeededRandom(1), logger: pino({ level: 'silent' }) })) as NatsTransport;
    try {
      expect(await client.linkTo('broker.broker-d.0')).toBe(true);
      expect(await client.linkTo('broker.broker-n.0')).toBe(false);
    } finally {
      await client.close();
    }
    expect(await direct.stop(8000)).toEqual({ code: 0, signal: null });
    expect(await plain.stop(8000)).toEqual({ code: 0, signal: null });
    expect(await ns.stop(8000)).toEqual({ code: 0, signal: null });
  });
});
