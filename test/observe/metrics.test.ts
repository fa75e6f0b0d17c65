import type { MqSystem, MessageExt } from '../../index.js';
import { FAST, eventually, memorySystem, startCluster } from '../e2e/support.js';

/**
 * The Prometheus endpoint of an embedded system: after a produce and consume round on the memory transport,
 * `/metrics` is scraped over HTTP, parsed, and its counters match what was sent and consumed.
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format (0.0.4): `name{label="value",...} number` lines; comments and blank lines skipped. */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const v = m[3]!;
    out.push({ name: m[1]!, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return out;
}

/** The samples of `name` whose labels include `labels`. */
function pick(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function one(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = pick(samples, name, labels);
  if (found.length !== 1) throw new Error(`expected one ${name} ${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}

async function scrape(url: string): Promise<{ status: number; type: string | null; samples: Sample[]; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), samples: res.status === 200 ? parseMetrics(text) : [], text };
}

describe('Prometheus metrics (embedded, memory transport)', () => {
  let system: MqSystem;
  afterEach(async () => {
    await system?.stop();
  });

  it('after a produce and consume round, /metrics counts what was sent and consumed', async () => {
    system = await memorySystem();
    await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    const metrics = await system.serveMetrics({ port: 0 });
    expect(metrics.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client });
    // 30 single sends with bodies of 1..30 bytes, then one batch of 10 bodies of 100 bytes
    let bytes = 0;
    for (let i = 1; i <= 30; i++) {
      await producer.send({ topic: 'orders', tags: 'paid', body: Buffer.alloc(i, 97) });
      bytes += i;
    }
    await producer.sendBatch(Array.from({ length: 10 }, () => ({ topic: 'orders', body: Buffer.alloc(100, 98) })));
    bytes += 1000;
    const sent = 40;

    const received: MessageExt[] = [];
    await system.spawnConsumer({
      group: 'billing',
      namesrv: ['ns-1'],
      subscribe: { orders: '*' },
      ...FAST.client,
      ...FAST.consumer,
      listener: (msgs) => {
        received.push(...msgs);
        return 'SUCCESS';
      },
    });
    await eventually(() => received.length >= sent, 15_000, `${sent} messages consumed`);
    expect(received.reduce((n, m) => n + m.body.length, 0)).toBe(bytes);

    // offsets are committed every 200 ms: wait for the lag to reach 0 on every queue of the topic
    const broker = { broker: 'broker-a/0' };
    let s = (await scrape(metrics.url)).samples;
    const until = Date.now() + 10_000;
    for (;;) {
      const lag = pick(s, 'actormq_consumer_lag_messages', { ...broker, group: 'billing', topic: 'orders' });
      if (lag.length > 0 && lag.every((l) => l.value === 0)) break;
      if (Date.now() > until) throw new Error(`consumer lag did not reach 0: ${JSON.stringify(lag)}`);
      await new Promise((r) => setTimeout(r, 100));
      s = (await scrape(metrics.url)).samples;
    }
    const res = await scrape(metrics.url);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    s = res.samples;

    const topic = { ...broker, topic: 'orders' };
    expect(one(s, 'actormq_messages_in_total', topic)).toBe(sent);
    expect(one(s, 'actormq_bytes_in_total', topic)).toBe(bytes);
    expect(one(s, 'actormq_messages_out_total', topic)).toBe(sent);
    expect(one(s, 'actormq_bytes_out_total', topic)).toBe(bytes);

    expect(one(s, 'actormq_requests_total', { ...broker, code: 'SEND_MESSAGE', status: 'OK' })).toBe(30);
    expect(one(s, 'actormq_requests_total', { ...broker, code: 'SEND_BATCH_MESSAGE', status: 'OK' })).toBe(1);
    expect(one(s, 'actormq_requests_total', { ...broker, code: 'PULL_MESSAGE', status: 'OK' })).toBeGreaterThan(0);
    expect(one(s, 'actormq_requests_total', { ...broker, code: 'HEART_BEAT', status: 'OK' })).toBeGreaterThan(0);

    for (const h of ['actormq_send_latency_seconds', 'actormq_pull_latency_seconds', 'actormq_flush_latency_seconds']) {
      const count = one(s, `${h}_count`, broker);
      expect(count).toBeGreaterThan(0);
      expect(one(s, `${h}_sum`, broker)).toBeGreaterThanOrEqual(0);
      const buckets = pick(s, `${h}_bucket`, broker);
      expect(buckets.map((b) => b.labels.le)).toContain('0.001');
      // cumulative, ending at +Inf with every observation
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      expect(one(s, `${h}_bucket`, { ...broker, le: '+Inf' })).toBe(count);
    }
    expect(one(s, 'actormq_send_latency_seconds_count', broker)).toBe(31);

    expect(one(s, 'actormq_commitlog_size_bytes', broker)).toBeGreaterThan(bytes);
    expect(one(s, 'actormq_dispatch_lag_bytes', broker)).toBeGreaterThanOrEqual(0);
    expect(one(s, 'actormq_held_pulls', broker)).toBeGreaterThanOrEqual(0);
    expect(one(s, 'actormq_flushed_bytes_total', broker)).toBeGreaterThan(bytes);
    expect(pick(s, 'actormq_consumer_lag_messages', { ...broker, group: 'billing', topic: 'orders' }).map((l) => l.labels.queue).sort()).toEqual(['0', '1', '2', '3']);
    // no replication here: no series
    expect(pick(s, 'actormq_replication_lag_bytes')).toEqual([]);
    // prom-client's process metrics come along
    expect(pick(s, 'process_cpu_user_seconds_total').length).toBe(1);

    // HELP and TYPE lines name every metric once, with Prometheus' types
    expect(res.text).toContain('# TYPE actormq_messages_in_total counter');
    expect(res.text).toContain('# TYPE actormq_send_latency_seconds histogram');
    expect(res.text).toContain('# TYPE actormq_consumer_lag_messages gauge');

    expect((await scrape(metrics.url.replace('/metrics', '/other'))).status).toBe(404);
    expect((await fetch(metrics.url, { method: 'POST' })).status).toBe(405);
  });

  it("a master and its slave report replication lag, which falls to 0 once the slave caught up", async () => {
    system = await memorySystem();
    await system.spawnNameServer({ id: 'ns-1' });
    const base = { name: 'b', namesrv: ['ns-1'], ...FAST.broker };
    await system.spawnBroker({ ...base, storeDir: '/data/master', ha: { mode: 'async' as const } });
    await system.spawnBroker({ ...base, id: 1, storeDir: '/data/slave', ha: { mode: 'async' as const } });
    const metrics = await system.serveMetrics({ port: 0, processMetrics: false });
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client });
    for (let i = 0; i < 20; i++) await producer.send({ topic: 'orders', body: Buffer.alloc(200, i) });
    // the master's series for its slave, and the slave's own
    let lag: Sample[] = [];
    for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      lag = pick((await scrape(metrics.url)).samples, 'actormq_replication_lag_bytes');
      if (lag.length === 2 && lag.every((l) => l.value === 0)) break;
    }
    expect(lag.map((l) => `${l.labels.broker} ${l.value}`).sort()).toEqual(['b/0 0', 'b/1 0']);
    expect(lag.every((l) => l.labels.slave !== undefined && l.labels.slave !== '')).toBe(true);
  });

  it('closes with the system; a taken port is a clear error', async () => {
    system = await memorySystem();
    await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    const metrics = await system.serveMetrics({ port: 0, processMetrics: false });
    const s = (await scrape(metrics.url)).samples;
    expect(pick(s, 'process_cpu_user_seconds_total')).toEqual([]);
    expect(one(s, 'actormq_commitlog_size_bytes', { broker: 'broker-a/0' })).toBeGreaterThanOrEqual(0);
    const port = Number(new URL(metrics.url).port);
    await expect(system.serveMetrics({ port })).rejects.toMatchObject({ name: 'MetricsServerError', message: expect.stringContaining(`127.0.0.1:${port}`) });
    await system.stop();
    await expect(fetch(metrics.url)).rejects.toThrow();
  });
});
