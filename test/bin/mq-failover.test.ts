/**
 * Automatic failover of real `mq broker` processes (`--failover`: the NATS KV bucket elects the master). A name
 * server and two brokers (`--broker-id 1` and `2`, `--ha sync --min-in-sync-replicas 1 --all-ack-in-sync-set`,
 * lease 1 s) run as processes on stores in a temp dir; a producer in the test keeps sending over the same NATS.
 * The test SIGKILLs the master (found with `mq admin ha --json`), sees the other broker take over (its role line),
 * restarts the killed one on its store and sees it follow the new master and return to the in-sync set; then a
 * consumer must read every message that was acknowledged (SEND_OK). The failover time of each kill is SIGKILL to
 * the first SEND_OK after the killed process is gone.
 *
 * First over one `nats-server -js` (three kills), then over a three-server NATS cluster with the bucket on three
 * replicas, where the master broker and the NATS server it is connected to die together.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsTransport, startSystem, type MqSystem } from '../../index.js';
import { AdminClient, type HaGroupStatus } from '../../actors/client/admin-client.js';
import type { HaStatus } from '../../actors/protocol/commands.js';
import type { Producer } from '../../actors/producer/producer.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { SendStatus } from '../../core/message.js';
import { startNatsCluster, startNatsServer } from '../support/nats-server.js';
import { runMq, spawnMq, type MqProcess } from '../support/mq-process.js';

jest.setTimeout(60_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

const LEASE_MS = 1000;
const FAILOVER_FLAGS = [
  '--ha', 'sync', '--min-in-sync-replicas', '1', '--all-ack-in-sync-set', '--ha-sync-timeout', '1000', '--slave-not-catchup', '2000',
  '--failover', '--lease', String(LEASE_MS), '--ha-heartbeat', '200',
];
const GROUP = 'fb';
const TOPIC = 'fo-orders';

/** The master of the highest epoch the group reports (an old master may still answer). */
function masterOf(g: HaGroupStatus): HaStatus | undefined {
  return g.brokers.filter((b) => b.role === 'master').sort((a, b) => (b.epoch ?? 0) - (a.epoch ?? 0))[0];
}

/** Sends one message after another (each waits for its answer), remembering what was acknowledged and when. */
class SendLoop {
  readonly acked: { body: string; uniqKey: string | undefined; at: number }[] = [];
  failed = 0;
  private running = true;
  private readonly done: Promise<void>;

  constructor(private readonly producer: Producer) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    for (let i = 0; this.running; i++) {
      const body = `m-${i}`;
      try {
        const r = await this.producer.send({ topic: TOPIC, body: Buffer.from(body) });
        if (r.status === SendStatus.SEND_OK) this.acked.push({ body, uniqKey: r.uniqKey, at: Date.now() });
        else this.failed++;
      } catch {
        this.failed++; // not stored, or stored without an answer: not acknowledged either way
        await sleep(20);
      }
      await sleep(2);
    }
  }

  /** Resolves with the time of the first acknowledgement after `t`. */
  ackAfter(t: number, ms: number): Promise<number> {
    return until(`a SEND_OK after ${new Date(t).toISOString()}`, () => this.acked.find((a) => a.at > t)?.at, ms);
  }

  async more(n: number, ms: number): Promise<void> {
    const target = this.acked.length + n;
    await until(`${n} more acknowledgements`, () => (this.acked.length >= target ? true : undefined), ms);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** A name server, two failover brokers of group `fb` on their stores, and a producer in the test. */
class FailoverRig {
  readonly brokers = new Map<number, MqProcess>();
  readonly processes: MqProcess[] = [];
  readonly failoverMs: number[] = [];
  private client: MqSystem | undefined;
  private admin: AdminClient | undefined;
  loop: SendLoop | undefined;

  constructor(
    private readonly storeDir: string,
    private readonly prefix: string,
    /** The NATS URL(s) the test's clients and the name server use. */
    private readonly clientNats: string,
    /** The `--nats` of broker `id` (on its start number `start`: 0 first, 1 after its first kill...). */
    private readonly brokerNats: (id: number, start: number) => string,
    private readonly bucketReplicas?: number,
  ) {}

  private conn(nats: string): string[] {
    return ['--nats', nats, '--prefix', this.prefix];
  }

  private starts = new Map<number, number>();

  startBroker(id: number): MqProcess {
    const start = this.starts.get(id) ?? 0;
    this.starts.set(id, start + 1);
    const replicas = this.bucketReplicas !== undefined ? ['--ha-bucket-replicas', String(this.bucketReplicas)] : [];
    const p = spawnMq(['broker', '--name', GROUP, '--broker-id', String(id), ...FAILOVER_FLAGS, ...replicas, '--namesrv', 'ns-f', '--store', join(this.storeDir, `b-${id}`), ...this.conn(this.brokerNats(id, start))], {
      env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    });
    this.processes.push(p);
    this.brokers.set(id, p);
    return p;
  }

  async start(): Promise<void> {
    const ns = spawnMq(['namesrv', '--id', 'ns-f', ...this.conn(this.clientNats)]);
    this.processes.push(ns);
    await ns.waitForLine(/^namesrv ns-f ready$/, 10_000);
    const b1 = this.startBroker(1);
    const b2 = this.startBroker(2);
    const ready = new RegExp(`^broker ${GROUP} ready as broker \\d of ${GROUP} under failover \\(the group's controller decides who is master\\)$`);
    await Promise.all([b1.waitForLine(ready, 15_000), b2.waitForLine(ready, 15_000)]);
    this.client = await startSystem({ transport: natsTransport({ servers: this.clientNats.split(','), prefix: this.prefix, name: 'failover-test' }), logger: rootLogger('silent') });
    this.admin = new AdminClient(this.client.env.transport, { namesrv: ['ns-f'], timeoutMs: 1000 });
    await this.bothInSync(15_000);
    const producer = await this.client.spawnProducer({ group: 'fo-producer', namesrv: ['ns-f'], sendTimeoutMs: 1000, retries: 2, routeRefreshMs: 1000 });
    this.loop = new SendLoop(producer);
  }

  /** The group as the test's admin client sees it, or undefined when it cannot say now. */
  private async group(): Promise<HaGroupStatus | undefined> {
    return this.admin!.haStatus(GROUP).catch(() => undefined);
  }

  /** Waits until the master (of the highest epoch) has both brokers in its in-sync set; resolves with it. */
  async bothInSync(ms: number): Promise<HaStatus> {
    return until('both brokers in the in-sync set', async () => {
      const m = masterOf((await this.group()) ?? { brokerName: GROUP, cluster: '', brokers: [], unreachable: [] });
      return m?.inSync?.length === 2 ? m : undefined;
    }, ms);
  }

  /** The master as `mq admin ha --json` shows it. */
  async masterByCli(): Promise<HaStatus> {
    const r = await runMq(['admin', 'ha', '--broker-name', GROUP, '--namesrv', 'ns-f', '--json', '--timeout', '1000', ...this.conn(this.clientNats)]);
    expect(r.code).toBe(0);
    const m = masterOf(JSON.parse(r.lines[0]!) as HaGroupStatus);
    expect(m).toEqual(expect.objectContaining({ role: 'master', mode: 'sync', epoch: expect.any(Number), confirmOffset: expect.any(Number), inSync: [1, 2] }));
    return m!;
  }

  /**
   * SIGKILLs the master (with `alsoKill`, at the same moment), waits for the other broker's role line, the first
   * acknowledgement after the kill (the failover time), restarts the killed broker and waits for it to follow
   * and to be back in the in-sync set.
   */
  async killMaster(alsoKill?: (masterId: number) => Promise<void>): Promise<void> {
    const loop = this.loop!;
    await loop.more(20, 10_000);
    const master = await this.masterByCli();
    const oldId = master.brokerId;
    const oldEpoch = master.epoch ?? 0;
    const newId = oldId === 1 ? 2 : 1;
    const victim = this.brokers.get(oldId)!;
    const killedAt = Date.now();
    victim.kill('SIGKILL');
    await Promise.all([victim.waitForExit(5000), alsoKill?.(oldId)]);
    const goneAt = Date.now();
    const epoch = await until(`broker ${GROUP}.${newId} to say it is master after epoch ${oldEpoch}`, () => {
      for (const l of this.brokers.get(newId)!.lines()) {
        const m = new RegExp(`^broker ${GROUP}\\.${newId} is now master of ${GROUP} \\(epoch (\\d+)\\)$`).exec(l);
        if (m && Number(m[1]) > oldEpoch) return Number(m[1]);
      }
      return undefined;
    }, 20_000);
    const ackAt = await loop.ackAfter(goneAt, 20_000);
    this.failoverMs.push(ackAt - killedAt);

    const back = this.startBroker(oldId);
    await back.waitForLine(new RegExp(`^broker ${GROUP}\\.${oldId} now follows broker\\.${GROUP}\\.${newId} \\(epoch ${epoch}\\)$`), 15_000);
    const m = await this.bothInSync(15_000);
    expect(m).toEqual(expect.objectContaining({ brokerId: newId, address: `broker.${GROUP}.${newId}`, epoch }));
  }

  /** Stops the producer; a consumer must then read every acknowledged message. */
  async consumeAll(): Promise<void> {
    const loop = this.loop!;
    await loop.stop();
    const consumer = await this.client!.spawnConsumer({ group: 'fo-billing', namesrv: ['ns-f'], subscribe: { [TOPIC]: '*' }, consumeFrom: 'first' });
    const seen = new Set<string>();
    const sub = consumer.messages$.subscribe((msg) => seen.add(Buffer.from(msg.body).toString()));
    try {
      await until('every acknowledged message consumed', () => (loop.acked.every((a) => seen.has(a.body)) ? true : undefined), 15_000).catch((err: unknown) => {
        const lost = loop.acked.filter((a) => !seen.has(a.body));
        throw new Error(`${(err as Error).message}: ${lost.length} of ${loop.acked.length} acknowledged messages not consumed (${lost.slice(0, 10).map((a) => `${a.body} ${a.uniqKey ?? ''}`).join(', ')})`);
      });
    } finally {
      sub.unsubscribe();
    }
  }

  async stop(): Promise<void> {
    await this.loop?.stop();
    await this.client?.stop().catch(() => undefined);
    await Promise.all(this.processes.map((p) => p.stop(3000)));
  }
}

describe('mq broker --failover refusals', () => {
  it('refuses broker id 0 before connecting, and a NATS server without JetStream with one line', async () => {
    const zero = await runMq(['broker', '--name', GROUP, '--broker-id', '0', '--failover', '--namesrv', 'ns-f', '--store', '/nonexistent', '--nats', 'nats://127.0.0.1:1']);
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toBe("mq: --failover: broker ids start at 1 (the group's controller picks the master): give each broker of the group --broker-id 1, 2, ...\n");

    const plain = await startNatsServer();
    const dir = mkdtempSync(join(tmpdir(), 'mq-failover-nojs-'));
    try {
      const r = await runMq(['broker', '--name', GROUP, '--broker-id', '1', '--failover', '--namesrv', 'ns-f', '--store', join(dir, 'b-1'), '--nats', plain.url]);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n').filter((l) => l.startsWith('mq: '))).toEqual([expect.stringMatching(/cannot open the HA bucket mq-ha: .*JetStream/)]);
    } finally {
      await plain.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('automatic failover of mq broker processes', () => {
  let storeDir: string | undefined;
  let rig: FailoverRig | undefined;
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(() => {
    storeDir = mkdtempSync(join(tmpdir(), 'mq-failover-'));
  });

  afterEach(async () => {
    await rig?.stop();
    rig = undefined;
    for (const c of cleanups.splice(0)) await c().catch(() => undefined);
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  });

  it('over nats-server -js: three SIGKILLs of the master, each killed broker returns as a slave, nothing acknowledged is lost', async () => {
    const nats = await startNatsServer({ jetstream: true });
    cleanups.push(() => nats.stop());
    rig = new FailoverRig(storeDir!, 'mqfo', nats.url, () => nats.url);
    await rig.start();
    for (let k = 0; k < 3; k++) await rig.killMaster();
    await rig.loop!.more(20, 10_000);
    await rig.consumeAll();
    console.log(`failover over one nats-server: SIGKILL to first SEND_OK ${rig.failoverMs.join(', ')} ms; ${rig.loop!.acked.length} acknowledged, ${rig.loop!.failed} not`);
    for (const ms of rig.failoverMs) expect(ms).toBeLessThan(8000);
  });

  it('over a three-server NATS cluster (bucket on 3 replicas): the master and its NATS server die together, failover still happens, nothing acknowledged is lost', async () => {
    const cluster = await startNatsCluster({ size: 3 });
    cleanups.push(() => cluster.stop());
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    // broker 1 on the first server, broker 2 on the second, the name server and the test's clients on the third;
    // a broker started again after a kill gets the servers still up
    const own = (id: number): string => (id === 1 ? u1 : u2);
    const others = (id: number): string => (id === 1 ? `${u2},${u3}` : `${u1},${u3}`);
    rig = new FailoverRig(storeDir!, 'mqfc', u3, (id, start) => (start === 0 ? own(id) : others(id)), 3);
    await rig.start();
    let killedServer: number | undefined;
    await rig.killMaster(async (masterId) => {
      killedServer = masterId - 1;
      await cluster.servers[killedServer]!.kill();
    });
    await rig.loop!.more(20, 10_000);
    await rig.consumeAll();
    console.log(`failover on a NATS cluster (master's server killed too): SIGKILL to first SEND_OK ${rig.failoverMs.join(', ')} ms; ${rig.loop!.acked.length} acknowledged, ${rig.loop!.failed} not`);
    expect(killedServer).toBeDefined();
  });
});
