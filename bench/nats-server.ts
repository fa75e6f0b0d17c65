/** The nats-server starter lives with the real scenario runs; benchmarks and tests use it from here too. */
export { startNatsServer, NatsServerError, NATS_SERVER_INSTALL } from '../scenarios/real/nats-server.js';
export type { NatsServer, NatsServerOptions } from '../scenarios/real/nats-server.js';
