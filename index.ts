/**
 * The embedding API: start an actor system on a transport and spawn any role in it.
 *
 *   const system = await startSystem({ transport: memoryTransport() });
 *   await system.spawnNameServer({ id: 'ns-1' });
 *   await system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: './data/a' });
 *   const producer = await system.spawnProducer({ group: 'orders-pg', namesrv: ['ns-1'] });
 *   await producer.send({ topic: 'orders', tags: 'paid', body: Buffer.from('...') });
 *   const consumer = await system.spawnConsumer({ group: 'billing', namesrv: ['ns-1'], subscribe: { orders: '*' }, consumeFrom: 'first' });
 *   consumer.messages$.subscribe((m) => ...);
 *   system.inspection$.subscribe(...);     // every actor's state changes
 *   const metrics = await system.serveMetrics({ port: 9100 });   // Prometheus: GET metrics.url
 *   const web = await system.observe({ port: 8080 });   // the web console at web.url (stopped with the system)
 *   await system.stop();                    // consumers, producers, brokers, name servers, in that order
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Observable } from 'rxjs';
import { realEnvironment, rootLogger, type Environment, type EnvironmentOptions } from './actors/runtime/environment.js';
import { ActorSystem } from './actors/runtime/system.js';
import type { InspectionRecord } from './actors/runtime/inspection.js';
import { startNameServer, type NameServer, type NameServerOptions } from './actors/namesrv/namesrv.js';
import { startController, type Controller, type ControllerOptions } from './actors/controller/controller.js';
import { startRegisteredBroker, type BrokerHandle, type BrokerOptions } from './actors/broker/broker.js';
import { startProducer, type Producer, type ProducerOptions } from './actors/producer/producer.js';
import { startTransactionProducer, type TransactionProducer, type TransactionProducerOptions, type TxState } from './actors/producer/transaction-producer.js';
import { startConsumer, type Consumer, type ConsumerOptions } from './actors/consumer/consumer.js';
import { diskStorage } from './store/backends/disk.js';
import { serveMetrics, type MetricsServer } from './observe/metrics-server.js';
import type { TransportFactory } from './transports/transport.js';

export interface SystemOptions {
  /** `memoryTransport()` or `natsTransport({ servers })`. */
  transport: TransportFactory;
  /**
   * Where brokers store data; the real file system (paths relative to the working directory) by default.
   * `(deps) => memoryStorage(deps)` keeps everything in memory (tests, demos).
   */
  storage?: EnvironmentOptions['storage'];
  /** Root logger; pino at LOG_LEVEL (default 'warn') otherwise. */
  logger?: Logger;
}

interface Stoppable {
  stop(): Promise<void>;
}

export interface ObserveOptions {
  /** Interface the console listens on (default 127.0.0.1). */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
}

/** A web console serving one system: its address, and how to stop it before the system stops. */
export interface ConsoleHandle {
  url: string;
  close(): Promise<void>;
}

/** A running system: one Environment, the roles spawned in it, and the inspection stream of all their actors. */
export class MqSystem {
  private readonly roles: { rank: number; role: Stoppable }[] = [];
  private readonly brokers: BrokerHandle[] = [];
  private readonly metricsServers: MetricsServer[] = [];
  private stopping: Promise<void> | undefined;
  private readonly consoles = new Set<ConsoleHandle>();

  /**
   * @param keepAlive a handle that keeps the process alive while the system runs (the real clock's timers do not, so a
   *   script awaiting a delayed message or a long poll would otherwise end with nothing left to run); released by stop
   */
  constructor(
    readonly actors: ActorSystem,
    private readonly keepAlive?: { unref(): unknown },
  ) {}

  get env(): Environment {
    return this.actors.env;
  }

  /** Every actor's state changes, in order. */
  get inspection$(): Observable<InspectionRecord> {
    return this.actors.inspection$;
  }

  spawnNameServer(opts: NameServerOptions): Promise<NameServer> {
    return this.track(0, startNameServer(this.actors, opts));
  }

  /**
   * Starts an HA controller: brokers given its id (`ha.controller`) heartbeat to it, and it elects each group's
   * master from the in-sync set (on NATS, brokers can use a JetStream KV bucket instead, with no controller).
   */
  spawnController(opts: ControllerOptions): Promise<Controller> {
    return this.track(0, startController(this.actors, opts));
  }

  /**
   * Resolves once the broker serves and every name server it was given has it; rejects (and stops it) when
   * that takes longer than its registerWaitMs, naming the name servers that did not answer.
   */
  async spawnBroker(opts: BrokerOptions): Promise<BrokerHandle> {
    const broker = await this.track(1, startRegisteredBroker(this.actors, opts));
    this.brokers.push(broker);
    return broker;
  }

  /**
   * Serves Prometheus metrics of every broker spawned in this system (and those spawned later) at
   * `GET http://HOST:PORT/metrics` (observe/metrics.ts lists them); port 0 picks a free port, `url` says which.
   * Host 127.0.0.1 by default; `processMetrics: false` leaves out prom-client's process metrics. Closed by stop.
   */
  async serveMetrics(opts: { host?: string; port: number; processMetrics?: boolean }): Promise<MetricsServer> {
    if (this.stopping) throw new Error('the system is stopping');
    const server = await serveMetrics({
      ...opts,
      brokers: () => this.brokers.filter((b) => b.state() !== 'stopped' && b.state() !== 'failed'),
      logger: this.env.logger,
    });
    this.metricsServers.push(server);
    return server;
  }

  spawnProducer(opts: ProducerOptions): Promise<Producer> {
    return this.track(2, startProducer(this.actors, opts));
  }

  /** A producer that sends in transactions and answers the brokers' checks of its group. */
  spawnTransactionProducer(opts: TransactionProducerOptions): Promise<TransactionProducer> {
    return this.track(2, startTransactionProducer(this.actors, opts));
  }

  spawnConsumer(opts: ConsumerOptions): Promise<Consumer> {
    return this.track(3, startConsumer(this.actors, opts));
  }

  /**
   * Publishes this system's observation records on its transport while someone observes the cluster (`mq
   * observe` over NATS sees this process beside the `mq` processes), until the system stops. `source` names the
   * process in the records (default `<hostname>.<pid>`). Costs nothing while nobody observes.
   */
  publishObservations(opts: { source?: string } = {}): void {
    this.actors.publishObservations({ source: opts.source ?? `${hostname()}.${process.pid}` });
  }

  /**
   * Serves the web console of this system (observe/web/server.ts): every actor's state chart with its active
   * states and recent events, the cluster tables, and time travel over trace files. Loaded only when called;
   * stopped with the system.
   */
  async observe(opts: ObserveOptions): Promise<ConsoleHandle> {
    if (this.stopping) throw new Error('the system is stopping');
    const [{ localSource }, { serveConsole }] = await Promise.all([import('./observe/source.js'), import('./observe/web/server.js')]);
    const source = localSource(this.actors);
    let server;
    try {
      server = await serveConsole(source, { ...opts, logger: this.env.logger });
    } catch (err) {
      await source.close();
      throw err;
    }
    const handle: ConsoleHandle = {
      url: server.url,
      close: async () => {
        this.consoles.delete(handle);
        await server.close();
        await source.close();
      },
    };
    this.consoles.add(handle);
    return handle;
  }

  /** Stops consumers first (they commit offsets), then producers, brokers and name servers; then the transport. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.closeMetrics();
      const ordered = [...this.roles].sort((a, b) => b.rank - a.rank);
      for (const { role } of ordered) {
        try {
          await role.stop();
        } catch (err) {
          this.env.logger.error({ err }, 'a role failed to stop cleanly');
        }
      }
      await this.closeConsoles();
      await this.actors.stop();
      this.keepAlive?.unref();
    })();
    return this.stopping;
  }

  /**
   * Stops dead, as a crash would (fault tests): every actor stops and the transport closes, no role says
   * goodbye (no offsets committed, nothing unregistered). A stop or kill after it does nothing more.
   */
  kill(): Promise<void> {
    this.stopping ??= (async () => {
      await this.closeMetrics();
      await this.closeConsoles();
      await this.actors.stop();
      this.keepAlive?.unref();
    })();
    return this.stopping;
  }

  private async closeMetrics(): Promise<void> {
    await Promise.all(this.metricsServers.map((m) => m.close()));
  }

  private async closeConsoles(): Promise<void> {
    for (const c of [...this.consoles]) {
      try {
        await c.close();
      } catch (err) {
        this.env.logger.error({ err }, 'the web console failed to close cleanly');
      }
    }
  }

  private async track<T extends Stoppable>(rank: number, started: Promise<T>): Promise<T> {
    if (this.stopping) throw new Error('the system is stopping');
    const role = await started;
    this.roles.push({ rank, role });
    return role;
  }
}

/** Starts an actor system on the real clock and randomness, with the given transport. */
export async function startSystem(opts: SystemOptions): Promise<MqSystem> {
  const env = await realEnvironment({
    transport: opts.transport,
    storage: opts.storage ?? (() => diskStorage()),
    logger: opts.logger ?? rootLogger(),
  });
  return new MqSystem(new ActorSystem(env), setInterval(() => {}, 0x7fffffff));
}

export { ActorSystem } from './actors/runtime/system.js';
export type { InspectionRecord } from './actors/runtime/inspection.js';
export type { ActorIo, FrameEvent } from './actors/runtime/actor-host.js';
export { realEnvironment, simEnvironment, type Environment, type SimEnvironment } from './actors/runtime/environment.js';
export { SimClock, RealClock, type Clock } from './core/clock.js';
export { SeededRandom, CryptoRandom, type RandomSource } from './core/random.js';
export { Status, StatusError } from './core/status.js';
export type { Message, MessageExt, SendResult, MessageQueue } from './core/message.js';
export type { NameServer, NameServerOptions, BrokerHandle, BrokerOptions, Producer, ProducerOptions, Consumer, ConsumerOptions };
export type { Controller, ControllerOptions };
export type { TransactionProducer, TransactionProducerOptions, TxState };
export { memoryTransport, memoryNetwork } from './transports/memory.js';
export { natsTransport, type NatsTransportOptions, type DirectOptions } from './transports/nats.js';
export { NatsConnectError, type NatsAuth, type NatsTls } from './transports/nats-auth.js';
export { withFaults } from './transports/faults.js';
export { memoryStorage } from './store/backends/memory.js';
export { serveMetrics, MetricsServerError, type MetricsServer, type ServeMetricsOptions } from './observe/metrics-server.js';
export { brokerMetricsRegistry, type BrokerMetricsRegistry } from './observe/metrics.js';
export type { BrokerMetricsSnapshot } from './actors/broker/broker.js';
export { diskStorage } from './store/backends/disk.js';
export type { Transport, TransportFactory } from './transports/transport.js';
