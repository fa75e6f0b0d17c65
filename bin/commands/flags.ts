/* What every `mq` command definition shares, without loading the system: flag parsers, errors, output. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Credentials } from '../../actors/protocol/acl/signing.js';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
/** How long the CLI waits for the first NATS connection before giving up. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;

/** A mistake on the command line or a failure to report as one line (`mq: <message>`) with exit code 1. */
export class CliError extends Error {
  readonly code = 'ECLI';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

// ---------------------------------------------------------------------------------------------- flag parsers

export function positiveInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** `ns-1,ns-2` -> ['ns-1', 'ns-2']. */
export function idList(value: string): string[] {
  const ids = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (ids.length === 0) throw new InvalidArgumentError('expected one or more name server ids, e.g. ns-1,ns-2');
  for (const id of ids) if (!ID.test(id)) throw new InvalidArgumentError(`name server id "${id}" must be 1-64 of [A-Za-z0-9_-]`);
  return ids;
}

export function identifier(value: string): string {
  if (!ID.test(value)) throw new InvalidArgumentError(`"${value}" must be 1-64 of [A-Za-z0-9_-]`);
  return value;
}

/** A parser that accepts one of `choices`. */
export function oneOf<T extends string>(...choices: T[]): (value: string) => T {
  return (value: string) => {
    if (!(choices as string[]).includes(value)) throw new InvalidArgumentError(`expected ${choices.join(' or ')}, got "${value}"`);
    return value as T;
  };
}

/** `HOST:PORT` (port 0: any free one) -> { host, port }. */
export function hostPort(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  const host = at > 0 ? value.slice(0, at).replace(/^\[(.*)\]$/, '$1') : '';
  const port = Number(value.slice(at + 1));
  if (host === '' || value.slice(at + 1).trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`expected HOST:PORT (port 0-65535, 0 for any free one), got "${value}"`);
  }
  return { host, port };
}

// ---------------------------------------------------------------------------------------------- connection flags

/** The NATS authentication and TLS flags (nats-flags.ts turns them into the transport's options). */
export interface NatsSecurityFlags {
  natsToken?: string;
  natsUser?: string;
  natsPass?: string;
  natsNkey?: string;
  natsCreds?: string;
  natsTls?: boolean;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
  natsTlsServerName?: string;
}

export interface ConnectionFlags extends NatsSecurityFlags {
  nats: string;
  prefix: string;
  connectTimeout: number;
  accessKey?: string;
  secretKey?: string;
}

/** Adds `--nats`, `--prefix`, `--connect-timeout`, the NATS authentication and TLS flags, and the ACL credentials `--access-key` and `--secret-key` to a command. */
export function connectionOptions(cmd: Command): Command {
  return natsSecurityOptions(
    cmd
      .option('--nats <urls>', 'NATS server URL, or several comma separated (servers of one NATS cluster)', DEFAULT_NATS_URL)
      .option('--prefix <prefix>', 'subject prefix (clusters with different prefixes do not see each other)', 'mq')
      .option('--connect-timeout <ms>', 'how long to wait for NATS', positiveInt, DEFAULT_CONNECT_TIMEOUT_MS)
      .option('--access-key <key>', 'sign requests with this ACL account (with --secret-key)')
      .option('--secret-key <key>', 'the secret key of --access-key'),
  );
}

/** Adds the authentication and TLS flags (secrets may come from the environment instead of the command line). */
function natsSecurityOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--nats-token <token>', 'NATS authentication token').env('MQ_NATS_TOKEN'))
    .addOption(new Option('--nats-user <user>', 'NATS user name (with --nats-pass)').env('MQ_NATS_USER'))
    .addOption(new Option('--nats-pass <password>', 'NATS password').env('MQ_NATS_PASS'))
    .option('--nats-nkey <file>', 'file holding the NATS nkey seed (SU...)')
    .option('--nats-creds <file>', 'NATS credentials file (user JWT and seed)')
    .option('--nats-tls', 'require TLS to NATS (implied by any --nats-tls-* flag)')
    .option('--nats-tls-ca <file>', 'CA certificate the NATS server certificate must chain to')
    .option('--nats-tls-cert <file>', 'client certificate, for NATS servers that verify clients (with --nats-tls-key)')
    .option('--nats-tls-key <file>', 'client certificate key')
    .option('--nats-tls-server-name <name>', 'the name the NATS server certificate must carry, when not the URL host');
}

/** `{ credentials }` from --access-key and --secret-key (both or neither), to spread into a role's options. */
export function credentialsOf(f: ConnectionFlags): { credentials?: Credentials } {
  if (f.accessKey === undefined && f.secretKey === undefined) return {};
  if (!f.accessKey || !f.secretKey) throw new CliError('--access-key and --secret-key go together');
  return { credentials: { accessKey: f.accessKey, secretKey: f.secretKey } };
}

// ---------------------------------------------------------------------------------------------- output

export function out(line: string): void {
  process.stdout.write(line + '\n');
}

export function outJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/** Resolves once what was written to stdout has been handed to the OS. */
export function flushStdout(): Promise<void> {
  return new Promise((resolve) => process.stdout.write('', () => resolve()));
}

/** The message of any error, for one line on stderr. */
export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim() || String(err);
}
