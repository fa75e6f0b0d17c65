import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Subject } from 'rxjs';
import { brokerMachine } from '../../../actors/broker/broker.machine.js';
import type { MachineDefinition } from '../../../actors/runtime/inspection.js';
import type { LiveSource, ObservedRecord } from '../../../observe/source.js';
import type { MachineLayout } from '../../../observe/web/layout-types.js';
import { serveConsole, type ConsoleServer } from '../../../observe/web/server.js';
import { SseClient } from '../../../observe/web/sse.js';

const log = pino({ level: 'silent' });
const definition = brokerMachine.toJSON() as unknown as MachineDefinition;

function fakeSource(): LiveSource & { records: Subject<ObservedRecord> } {
  const records = new Subject<ObservedRecord>();
  return {
    records,
    records$: records.asObservable(),
    snapshot: () => [
      { kind: 'machine', seq: 0, time: 10, source: 'local', address: 'broker.a.0', actorId: 'broker.a.0', machine: 'broker', definition },
      { kind: 'actor', seq: 1, time: 10, source: 'local', address: 'broker.a.0', actorId: 'broker.a.0', machine: 'broker' },
      { kind: 'snapshot', seq: 2, time: 11, source: 'local', address: 'broker.a.0', actorId: 'broker.a.0', event: 'xstate.init', state: 'starting', status: 'active' },
    ],
    dropped: () => ({ local: 0 }),
    close: async () => records.complete(),
  };
}

interface SseEvent {
  event: string;
  data: unknown;
}

/** Opens the stream and collects its events until `until` says enough. */
function readStream(url: string, until: (events: SseEvent[]) => boolean, onEvent?: (e: SseEvent) => void): Promise<SseEvent[]> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const req = request(new URL('/api/stream', url), (res) => {
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (block.startsWith(':')) continue;
          const name = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = /^data: (.*)$/m.exec(block)?.[1];
          const e = { event: name, data: data === undefined ? undefined : JSON.parse(data) };
          events.push(e);
          onEvent?.(e);
          if (until(events)) {
            req.destroy();
            resolve(events);
          }
        }
      });
    });
    req.on('error', (err) => (events.length > 0 ? undefined : reject(err)));
    req.end();
  });
}

async function get(url: string, path: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(new URL(path, url));
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

describe('console server', () => {
  let server: ConsoleServer;
  let source: ReturnType<typeof fakeSource>;
  let dir: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'console-'));
    source = fakeSource();
    const trace = [
      JSON.stringify({ kind: 'scenario', name: 'tiny', seed: 1, scenario: {} }),
      JSON.stringify({ seq: 0, t: 5, k: 'frame', p: 'broker-a', from: 'x', to: 'y' }),
      JSON.stringify({ seq: 1, t: 6, k: 'state', p: 'broker-a', a: 'broker.broker-a.0', id: 'broker.broker-a.0', e: 'x', s: 'serving', st: 'active' }),
    ].join('\n');
    writeFileSync(join(dir, 'run.trace'), trace + '\n');
    server = await serveConsole(source, { port: 0, logger: log, traceFile: join(dir, 'run.trace') });
  });
  afterEach(async () => {
    await server.close();
    await source.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams the snapshot first, then live records, over SSE', async () => {
    const live: ObservedRecord = { kind: 'snapshot', seq: 3, time: 12, source: 'local', address: 'broker.a.0', actorId: 'broker.a.0', event: 'done', state: 'serving', status: 'active' };
    const events = await readStream(
      server.url,
      (es) => es.some((e) => e.event === 'records'),
      (e) => {
        if (e.event === 'snapshot') setImmediate(() => source.records.next(live));
      },
    );
    expect(events[0]).toEqual({ event: 'hello', data: { live: true } });
    const snap = events.find((e) => e.event === 'snapshot')!.data as ObservedRecord[];
    expect(snap.map((r) => r.kind)).toEqual(['machine', 'actor', 'snapshot']);
    // Definitions go out compact: targets as ids.
    const def = (snap[0] as ObservedRecord & { kind: 'machine' }).definition;
    expect(JSON.stringify(def).length).toBeLessThan(JSON.stringify(definition).length);
    expect(events.find((e) => e.event === 'records')!.data).toEqual([live]);
    expect(events.some((e) => e.event === 'dropped')).toBe(true);
  });

  it('survives browsers that leave', async () => {
    await readStream(server.url, (es) => es.length >= 2);
    for (let i = 0; i < 100; i++) source.records.next({ kind: 'event', seq: 10 + i, time: 20, source: 'local', address: 'broker.a.0', actorId: 'broker.a.0', event: 'tick' });
    const again = await readStream(server.url, (es) => es.some((e) => e.event === 'snapshot'));
    expect(again.length).toBeGreaterThan(0);
  });

  it('lays out a posted definition, and one the live source sent', async () => {
    const posted = await fetch(new URL('/api/layout', server.url), { method: 'POST', body: JSON.stringify({ machine: 'broker', definition }) });
    expect(posted.status).toBe(200);
    const layout = (await posted.json()) as MachineLayout;
    expect(layout.nodes.map((n) => n.path.join('.'))).toEqual(expect.arrayContaining(['', 'starting', 'serving', 'stopped']));
    await readStream(server.url, (es) => es.some((e) => e.event === 'snapshot')); // the server keeps the definitions it streamed
    const known = await get(server.url, '/api/layout/broker?source=local');
    expect(known.status).toBe(200);
    expect((JSON.parse(known.body) as MachineLayout).machine).toBe('broker');
    expect((await get(server.url, '/api/layout/nope?source=local')).status).toBe(404);
    expect((await fetch(new URL('/api/layout', server.url), { method: 'POST', body: '{' })).status).toBe(400);
  });

  it('serves the page, its scripts from the compiled package, and nothing outside observe/', async () => {
    const page = await get(server.url, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('/js/web/client/main.js');
    expect(page.body).not.toMatch(/https?:\/\//);
    const main = await get(server.url, '/js/web/client/main.js');
    expect(main.status).toBe(200);
    expect(main.type).toMatch(/javascript/);
    expect(main.body).toContain("from '../../cluster-view.js'");
    expect((await get(server.url, '/js/cluster-view.js')).status).toBe(200);
    expect((await get(server.url, '/js/../../index.js')).status).toBe(404);
    expect((await get(server.url, '/js/%2e%2e/source.js')).status).toBe(404);
    expect((await get(server.url, '/console.css')).status).toBe(200);
  });

  it('serves the trace file, only the lines the console uses', async () => {
    expect(JSON.parse((await get(server.url, '/api/info')).body)).toEqual({ live: true, trace: 'run.trace' });
    const lines = (await get(server.url, '/api/trace')).body.trim().split('\n').map((l) => JSON.parse(l) as { k?: string; kind?: string });
    expect(lines.map((l) => l.k ?? l.kind)).toEqual(['scenario', 'state']);
  });

  it('without a live source: says so and still serves time travel', async () => {
    const bare = await serveConsole(undefined, { port: 0, logger: log });
    try {
      expect(JSON.parse((await get(bare.url, '/api/info')).body)).toEqual({ live: false });
      const events = await readStream(bare.url, (es) => es.length >= 1);
      expect(events[0]).toEqual({ event: 'hello', data: { live: false } });
      expect((await get(bare.url, '/api/trace')).status).toBe(404);
    } finally {
      await bare.close();
    }
  });
});

describe('SSE client bounds', () => {
  /** A response whose socket buffer is full until `drain`. */
  class SlowResponse extends EventEmitter {
    written: string[] = [];
    full = false;
    destroyed = false;
    writeHead(): this {
      return this;
    }
    write(chunk: string): boolean {
      this.written.push(chunk);
      return !this.full;
    }
    end(): void {}
  }

  it('holds at most maxQueued records for a browser that does not keep up, drops the oldest and counts them', () => {
    const res = new SlowResponse();
    const client = new SseClient(res as never, log, { maxQueued: 10 });
    res.full = true;
    client.push({ n: -1 });
    client.flush(); // the write that fills the buffer
    for (let i = 0; i < 25; i++) client.push({ n: i });
    client.flush(); // blocked: nothing written
    expect(res.written).toHaveLength(1);
    expect(client.dropped).toBe(15);
    res.full = false;
    res.emit('drain');
    expect(res.written).toHaveLength(2);
    expect(JSON.parse(res.written[1]!.split('data: ')[1]!) as { n: number }[]).toEqual(Array.from({ length: 10 }, (_, i) => ({ n: 15 + i })));
  });
});
