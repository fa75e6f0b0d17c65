/* `mq namesrv` and `mq broker`: long-running roles on NATS (definitions; the work is in roles-run.ts). */
import type { Command } from 'commander';
import { connectionOptions, hostPort, idList, identifier, nonNegativeInt, oneOf, positiveInt } from './flags.js';
import type { BrokerFlags, NamesrvFlags } from './roles-run.js';

export function registerRoles(program: Command): void {
  connectionOptions(
    program
      .command('namesrv')
      .description('run a name server on NATS until SIGINT or SIGTERM; prints "namesrv <id> ready" when serving')
      .requiredOption('--id <id>', 'name server id (it serves at namesrv.<id>)', identifier)
      .option('--broker-expiry <ms>', 'drop brokers not heard from for this long', positiveInt)
      .option('--scan-interval <ms>', 'how often silent brokers are looked for', positiveInt)
      .option('--acl <file>', 'ACL file (JSON): refuse requests not signed by an account with the permission they need'),
  ).action(async (f: NamesrvFlags) => (await import('./roles-run.js')).runNamesrv(f));

  connectionOptions(
    program
      .command('broker')
      .description('run a broker on NATS until SIGINT or SIGTERM; prints "broker <name> ready as <role>" once a name server has it')
      .requiredOption('--name <name>', 'broker group name (it serves at broker.<name>.<id>)', identifier)
      .option('--broker-id <id>', '0 for the master, > 0 for a slave (it follows broker.<name>.0); with --failover 1, 2, ... for every broker', nonNegativeInt, 0)
      .option('--ha <mode>', "a master's acknowledgement: sync once its in-sync replicas hold a message, async at once (default async)", oneOf('sync', 'async'))
      .option('--min-in-sync-replicas <n>', '--ha sync: replicas, the master counted, that must hold a message before it is acknowledged (default 2)', positiveInt)
      .option('--all-ack-in-sync-set', '--ha sync: wait for every member of the in-sync set, however many')
      .option('--ha-sync-timeout <ms>', '--ha sync: how long a send waits for its replicas before FLUSH_SLAVE_TIMEOUT (stored) (default 3000)', positiveInt)
      .option('--slave-not-catchup <ms>', 'a slave not caught up with the master for this long leaves the in-sync set (default 15000)', positiveInt)
      .option('--start-from <where>', "a new slave (empty store) copies its master's log from its oldest byte (first) or its last commit log segment (last-file) (default first)", oneOf('first', 'last-file'))
      .option('--ha-pulls-in-flight <n>', 'a slave: replication requests it keeps at its master at once, each acknowledging what it appended (default 4, at most 64)', positiveInt)
      .option('--failover', "automatic failover: the group's controller (a JetStream KV bucket on the NATS server) elects the master; broker ids start at 1")
      .option('--lease <ms>', "--failover: how long a master's heartbeat keeps it master, and a silent broker counts as alive (default 3000)", positiveInt)
      .option('--ha-heartbeat <ms>', '--failover: how often the broker heartbeats to the controller (default 500; below the lease)', positiveInt)
      .option('--ha-bucket-replicas <n>', "--failover: replicas of the controller's KV bucket when this broker creates it (default 1; 3 on a NATS cluster)", positiveInt)
      .option('--cluster <name>', 'cluster name', identifier, 'DefaultCluster')
      .requiredOption('--namesrv <ids>', 'name server ids, comma separated (ns-1,ns-2)', idList)
      .requiredOption('--store <dir>', 'store directory (one broker per directory)')
      .option('--flush <mode>', 'sync: acknowledge after fsync; async: flush on an interval', oneOf('sync', 'async'), 'async')
      .option('--flush-pacing <how>', "async flush: 'adaptive' flushes as soon as the previous flush ended, 'interval' waits --flush-interval after a write (default: interval with --visibility written, else adaptive)", oneOf('adaptive', 'interval'))
      .option('--visibility <what>', "what consumers see: 'written' data once its queue offsets are reserved, or only 'flushed' data (default: written for an async broker that is no slave, sync master or controlled one)", oneOf('flushed', 'written'))
      .option('--store-mode <mode>', "'mixed': one commit log for every queue (default); 'per-queue': a log per queue (a lone master only)", oneOf('mixed', 'per-queue'))
      .option('--flush-interval <ms>', "async flush with --flush-pacing interval: how long written data waits for its fsync, and consumers for it (default 100)", nonNegativeInt)
      .option('--no-auto-create', 'refuse sends to unknown topics instead of creating them')
      .option('--register-interval <ms>', 're-registration with the name servers', positiveInt)
      .option('--segment-size <bytes>', 'commit log segment size', positiveInt)
      .option('--max-open-files <n>', 'store files kept open at most; the least recently used are closed once flushed and opened again when used (default 1024)', positiveInt)
      .option('--file-idle-close <ms>', 'a store file unused this long is closed (default 60000; 0: never)', nonNegativeInt)
      .option('--direct <host:port>', 'also serve clients over direct TCP links here (port 0: any free one)', hostPort, { host: '127.0.0.1', port: 0 })
      .option('--direct-advertise <host>', 'the host clients connect to for direct links (default: the --direct host)')
      .option('--direct-tls-cert <file>', 'certificate for direct links over TLS (default with TLS NATS: --nats-tls-cert)')
      .option('--direct-tls-key <file>', 'key of --direct-tls-cert')
      .option('--no-direct', 'serve clients over NATS only')
      .option('--acl <file>', 'ACL file (JSON): refuse requests not signed by an account with the permission they need')
      .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (port 0: any free one; the line "broker <name> metrics at URL" says which)', hostPort),
  ).action(async (f: BrokerFlags) => (await import('./roles-run.js')).runBroker(f));
}
