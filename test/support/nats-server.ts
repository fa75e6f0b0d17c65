/** Tests and benchmarks share one nats-server launcher. */
export { startNatsServer, startNatsCluster, NatsServerError, NATS_SERVER_INSTALL } from '../../bench/nats-server.js';
export type { NatsServer, NatsServerOptions, NatsCluster, NatsClusterOptions } from '../../bench/nats-server.js';
