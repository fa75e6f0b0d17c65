import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSystem, type MqSystem } from '../../index.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { natsTransport } from '../../transports/nats.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { spawnMq, type MqProcess } from '../support/mq-process.js';

/**
 * A cluster across processes for end-to-end tests over NATS: a nats-server on a free loopback port, name
 * servers and brokers as `mq namesrv` / `mq broker` processes, and an actor system in the test process (on
 * its own NATS connection) for producers and consumers.
 */
export class NatsCluster {
  readonly procs = new Map<string, MqProcess>();
  system!: MqSystem;
  private nats!: NatsServer;
  private dir!: string;

  constructor(
    private readonly prefix: string,
    private readonly namesrv: string[],
    private readonly flush: 'sync' | 'async' = 'sync',
  ) {}

  async start(brokers: string[]): Promise<void> {
    this.nats = await startNatsServer();
    this.dir = mkdtempSync(join(tmpdir(), `mq-${this.prefix}-`));
    await Promise.all(this.namesrv.map((id) => this.startNamesrv(id)));
    await Promise.all(brokers.map((name) => this.startBroker(name)));
    this.system = await startSystem({ transport: natsTransport({ servers: this.nats.url, prefix: this.prefix }), storage: (deps) => memoryStorage(deps) });
  }

  /** The NATS server's URL (once started). */
  get natsUrl(): string {
    return this.nats.url;
  }

  private flags(): string[] {
    return ['--nats', this.nats.url, '--prefix', this.prefix];
  }

  async startNamesrv(id: string): Promise<void> {
    const p = spawnMq(['namesrv', '--id', id, '--broker-expiry', '3000', '--scan-interval', '500', ...this.flags()]);
    this.procs.set(id, p);
    await p.waitForLine(new RegExp(`namesrv ${id} ready`), 15_000);
  }

  /** Starts (or restarts, on the same store directory) a broker process. */
  async startBroker(name: string): Promise<void> {
    const store = join(this.dir, name);
    const args = ['broker', '--name', name, '--namesrv', this.namesrv.join(','), '--store', store, '--flush', this.flush, '--register-interval', '500'];
    const p = spawnMq([...args, ...this.flags()]);
    this.procs.set(name, p);
    await p.waitForLine(new RegExp(`broker ${name} ready`), 15_000);
  }

  async stop(): Promise<void> {
    await this.system?.stop();
    for (const p of this.procs.values()) await p.stop().catch(() => undefined);
    await this.nats?.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
