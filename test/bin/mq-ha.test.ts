/**
 * Replication from the command line against a private nats-server: a name server, a sync master
 * (`mq broker --ha sync`) and a slave (`--broker-id 1`), each its own process; `mq produce --json` and
 * `mq consume --json` give each message's unique key beside its store-side id, and `mq admin ha` shows the
 * slave in sync with no lag, then lists it as unreachable once it is gone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HaGroupStatus } from '../../actors/client/admin-client.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { runMq, spawnMq, type MqProcess, type MqRun } from '../support/mq-process.js';

jest.setTimeout(60_000);

let nats: NatsServer;
let storeDir: string;
const running: MqProcess[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  storeDir = mkdtempSync(join(tmpdir(), 'mq-ha-cli-'));
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(3000)));
  await nats?.stop();
  if (storeDir) rmSync(storeDir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('mq broker replication flags', () => {
  const base = ['broker', '--name', 'b', '--namesrv', 'ns-1', '--store', '/nonexistent', '--nats', 'nats://127.0.0.1:1'];
  const cases: [string[], RegExp][] = [
    [['--ha', 'semi'], /--ha.*expected sync or async, got "semi"/],
    [['--ha', 'sync', '--min-in-sync-replicas', '0'], /--min-in-sync-replicas.*expected a positive integer, got "0"/],
    [['--min-in-sync-replicas', '2'], /^mq: --min-in-sync-replicas apply to a sync master only: add --ha sync, or leave it out$/],
    [['--broker-id', '1', '--ha-sync-timeout', '100'], /broker id 1 is a slave: give it to the master \(--broker-id 0 --ha sync\)/],
    [['--broker-id', '1', '--ha-pulls-in-flight', '0'], /--ha-pulls-in-flight.*expected a positive integer, got "0"/],
    [['--broker-id', '1', '--ha-pulls-in-flight', '65'], /^mq: --ha-pulls-in-flight 65: at most 64 \(a master holds no more requests of one slave\)$/],
  ];

  it('refuse bad values and combinations with one line, before connecting', async () => {
    const results = await Promise.all(cases.map(([args]) => runMq([...base, ...args])));
    results.forEach((r: MqRun, i) => {
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n').filter((l) => l.length > 0);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(cases[i]![1]);
    });
  });

  it('are listed by mq broker --help', async () => {
    const help = await runMq(['broker', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--broker-id', '--ha <mode>', '--min-in-sync-replicas', '--all-ack-in-sync-set', '--ha-sync-timeout', '--slave-not-catchup', '--ha-pulls-in-flight']) expect(help.stdout).toContain(flag);
  });
});

describe('a sync master and its slave', () => {
  const conn = (): string[] => ['--nats', nats.url, '--prefix', 'mqha'];

  it('replicate what mq produce sends; mq admin ha shows the slave in sync, then unreachable; ids are kept end to end', async () => {
    const ns = spawnMq(['namesrv', '--id', 'ns-h', ...conn()]);
    running.push(ns);
    await ns.waitForLine(/^namesrv ns-h ready$/, 10_000);
    const broker = (id: number, extra: string[]): MqProcess => {
      const p = spawnMq(['broker', '--name', 'hb', '--broker-id', String(id), '--namesrv', 'ns-h', '--store', join(storeDir, `hb-${id}`), '--flush', 'sync', ...extra, ...conn()]);
      running.push(p);
      return p;
    };
    const master = broker(0, ['--ha', 'sync', '--min-in-sync-replicas', '2', '--ha-sync-timeout', '2000']);
    const slave = broker(1, ['--ha-pulls-in-flight', '2']);
    await Promise.all([
      master.waitForLine(/^broker hb ready as sync master$/, 15_000),
      slave.waitForLine(/^broker hb ready as slave 1 of hb, following broker\.hb\.0$/, 15_000),
    ]);

    const ha = (): Promise<MqRun> => runMq(['admin', 'ha', '--broker-name', 'hb', '--namesrv', 'ns-h', '--json', '--timeout', '1000', ...conn()]);
    const inSync = (g: HaGroupStatus): boolean => g.brokers.find((b) => b.role === 'master')?.inSync?.includes(1) === true;
    let group: HaGroupStatus | undefined;
    for (let i = 0; i < 30 && !(group && inSync(group)); i++) {
      if (i > 0) await sleep(200);
      const r = await ha();
      if (r.code === 0) group = JSON.parse(r.lines[0]!) as HaGroupStatus;
    }
    expect(group && inSync(group)).toBe(true);

    // a sync master acknowledges once the slave holds the message: each answer is SEND_OK with both ids
    const produced = await runMq(['produce', '--namesrv', 'ns-h', '--topic', 'ha-orders', '--count', '10', '--json', ...conn()]);
    expect(produced.stderr).toBe('');
    expect(produced.code).toBe(0);
    const acks = produced.lines.slice(0, 10).map((l) => JSON.parse(l) as { status: string; msgId: string; uniqKey: string; brokerName: string });
    for (const a of acks) {
      expect(a).toEqual(expect.objectContaining({ status: 'SEND_OK', brokerName: 'hb', msgId: expect.any(String), uniqKey: expect.any(String) }));
      expect(a.uniqKey).not.toBe(a.msgId);
    }
    expect(new Set(acks.map((a) => a.uniqKey)).size).toBe(10);

    const after = await ha();
    expect(after.code).toBe(0);
    group = JSON.parse(after.lines[0]!) as HaGroupStatus;
    expect(group).toEqual(expect.objectContaining({ brokerName: 'hb', cluster: 'DefaultCluster', unreachable: [] }));
    const m = group.brokers.find((b) => b.brokerId === 0)!;
    expect(m).toEqual(expect.objectContaining({ role: 'master', mode: 'sync', address: 'broker.hb.0', inSync: [0, 1], minInSyncReplicas: 2 }));
    expect(m.writeOffset).toBeGreaterThan(0);
    expect(m.slaves).toEqual([expect.objectContaining({ brokerId: 1, address: 'broker.hb.1', ackOffset: m.writeOffset, lagBytes: 0, lagMessages: 0, inSync: true })]);
    expect(group.brokers.find((b) => b.brokerId === 1)).toEqual(expect.objectContaining({ role: 'slave', master: 'broker.hb.0' }));

    const table = await runMq(['admin', 'ha', '--broker-name', 'hb', '--namesrv', 'ns-h', ...conn()]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^broker group hb \(cluster DefaultCluster\)$/m);
    expect(table.stdout).toMatch(new RegExp(`^broker\\.hb\\.0 +0 +sync +${m.writeOffset} +\\d+ +0,1 +2$`, 'm'));
    expect(table.stdout).toMatch(/^ +1 +broker\.hb\.1 +\d+ +0 +0 +\d+\.\d s ago +yes$/m);

    // the consumer sees the same unique keys (the store-side ids name the master, which stored them)
    const consumed = await runMq(['consume', '--namesrv', 'ns-h', '--group', 'ha-billing', '--topic', 'ha-orders', '--count', '10', '--timeout', '15000', '--json', ...conn()]);
    expect(consumed.stderr).toBe('');
    expect(consumed.code).toBe(0);
    const msgs = consumed.lines.map((l) => JSON.parse(l) as { msgId: string; uniqKey: string });
    expect(new Set(msgs.map((x) => x.uniqKey))).toEqual(new Set(acks.map((a) => a.uniqKey)));
    expect(new Set(msgs.map((x) => x.msgId))).toEqual(new Set(acks.map((a) => a.msgId)));

    // a slave that is gone (killed: still registered) is listed as unreachable, not a crash
    slave.kill('SIGKILL');
    await slave.waitForExit(5000);
    const gone = await runMq(['admin', 'ha', '--broker-name', 'hb', '--namesrv', 'ns-h', '--timeout', '1000', ...conn()]);
    expect(gone.code).toBe(0);
    expect(gone.stdout).toMatch(/^UNREACHABLE +ID +ERROR\nbroker\.hb\.1 +1 +\S/m);

    const unknown = await runMq(['admin', 'ha', '--broker-name', 'nope', '--namesrv', 'ns-h', ...conn()]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/^mq: (NO_ROUTE: )?broker group "nope" is not registered with the name servers \(known: hb\)\n$/);

    expect(await master.stop(8000)).toEqual({ code: 0, signal: null });
    expect(await ns.stop(8000)).toEqual({ code: 0, signal: null });
  });
});
