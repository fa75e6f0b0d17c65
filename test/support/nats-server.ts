/** Tests and benchmarks share one nats-server launcher. */
export { startNatsServer, NatsServerError, NATS_SERVER_INSTALL } from '../../bench/nats-server.js';
export type { NatsServer, NatsServerOptions } from '../../bench/nats-server.js';
