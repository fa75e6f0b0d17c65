/** The nats-server starter lives with the real scenario runs; benchmarks and tests use it from here too. */
export { startNatsServer, startNatsCluster, NatsServerError, NATS_SERVER_INSTALL } from '../scenarios/real/nats-server.js';
export type { NatsServer, NatsServerOptions, NatsCluster, NatsClusterOptions } from '../scenarios/real/nats-server.js';
