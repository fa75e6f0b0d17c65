/* `mq admin ...` (definitions; the work is in admin-run.ts, loaded when a command runs). */
import { Option, type Command } from 'commander';
import { CliError, connectionOptions, idList, identifier, positiveInt } from './flags.js';
import type { AdminFlags, MessageFlags, TopicCreateFlags } from './admin-run.js';

const run = () => import('./admin-run.js');

/** The options every admin command has. */
function adminCommand(parent: Command, name: string, description: string): Command {
  return connectionOptions(
    parent
      .command(name)
      .description(description)
      .requiredOption('--namesrv <ids>', 'name server ids, comma separated (ns-1,ns-2)', idList)
      .option('--json', 'print JSON instead of tables')
      .option('--timeout <ms>', 'how long one request waits for its answer', positiveInt, 3000),
  );
}

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('administer topics, the cluster and consumer groups');

  const topic = admin.command('topic').description('create, list and look up topics');
  adminCommand(topic, 'create', 'create or update a topic on the master of every broker of a cluster')
    .requiredOption('--topic <topic>', 'topic name')
    .option('--queues <n>', 'read and write queues', positiveInt, 4)
    .option('--read-queues <n>', 'read queues (default: --queues)', positiveInt)
    .option('--write-queues <n>', 'write queues (default: --queues)', positiveInt)
    .option('--cluster <name>', 'cluster (default: the only one)')
    .option('--broker <name>', 'only this broker group', identifier)
    .action(async (f: TopicCreateFlags) => (await run()).runTopicCreate(f));

  adminCommand(topic, 'list', 'list the topics the name server knows').action(async (f: AdminFlags) => (await run()).runTopicList(f));

  adminCommand(topic, 'route', 'show the brokers and queues of a topic')
    .requiredOption('--topic <topic>', 'topic name')
    .action(async (f: AdminFlags & { topic: string }) => (await run()).runTopicRoute(f));

  adminCommand(admin, 'cluster', 'show clusters, broker groups and broker addresses').action(async (f: AdminFlags) => (await run()).runCluster(f));

  adminCommand(admin, 'broker', 'show each broker: whether its store takes writes (and why not), commit log positions, corrupt bytes').action(
    async (f: AdminFlags) => (await run()).runBrokerStatus(f),
  );

  adminCommand(admin, 'ha', "show a broker group's replication: its master, in-sync set and each slave's lag")
    .requiredOption('--broker-name <name>', 'broker group name', identifier)
    .action(async (f: AdminFlags & { brokerName: string }) => (await run()).runHaStatus(f));

  const consumer = admin.command('consumer').description('consumer groups');
  adminCommand(consumer, 'progress', 'per queue: broker offset, consumer offset and lag of a consumer group')
    .argument('<group>', 'consumer group')
    .option('--topic <topics>', 'only these topics (comma separated)')
    .action(async (group: string, f: AdminFlags & { topic?: string }) => (await run()).runConsumerProgress(group, f));

  adminCommand(admin, 'message', 'find a message by id, or messages by key in a topic')
    .addOption(new Option('--id <msgId>', 'store-side message id').conflicts('key'))
    .option('--key <key>', 'business key (needs --topic)')
    .option('--topic <topic>', 'topic of the key')
    .option('--max <n>', 'most messages by key', positiveInt, 64)
    .action(async (f: MessageFlags) => {
      if (f.id === undefined && f.key === undefined) throw new CliError('give --id ID, or --key KEY --topic TOPIC');
      if (f.key !== undefined && f.topic === undefined) throw new CliError('--key needs --topic');
      await (await run()).runMessage(f);
    });
}
