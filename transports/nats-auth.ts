/**
 * Authentication and TLS for the NATS connection, and what a failed first connect means.
 *
 * `natsSecurityOptions` turns the transport's `auth` and `tls` options into the NATS client's connection options:
 * a token, a user and password, an nkey seed (given or read from a file), or a credentials file (read on each
 * connect, so a rotated file is picked up on reconnect); TLS certificate files are checked to be readable here and
 * read by the client on each connect. Giving `tls` at all means the connection must be TLS.
 *
 * `connectFailure` names the cause of a failed first connect from the client's error: authentication, an
 * unreachable server, TLS, or the configuration.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import {
  AuthorizationError,
  ConnectionError,
  TimeoutError,
  UserAuthenticationExpiredError,
  credsAuthenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type ConnectionOptions,
  type TlsOptions,
} from '@nats-io/transport-node';

/** How the connection authenticates: one of these, as the server is configured. */
export type NatsAuth =
  | { token: string }
  | { user: string; pass: string }
  /** The nkey seed itself (`SU...`). */
  | { nkeySeed: string }
  /** A file holding the nkey seed. */
  | { nkeySeedFile: string }
  /** A credentials file (user JWT and nkey seed), as made by `nsc`. */
  | { credsFile: string };

/** TLS to the NATS server; file paths. Given at all (even `{}`), the connection must be TLS. */
export interface NatsTls {
  /** CA certificate(s) the server's certificate must chain to (default: the system's). */
  ca?: string;
  /** Client certificate, for servers that verify clients (`verify: true`); needs `key`. */
  cert?: string;
  key?: string;
  /** The name the server's certificate must carry, when it is not the host of the URL. */
  serverName?: string;
}

export type NatsConnectCause = 'auth' | 'unreachable' | 'tls' | 'config';

/** The first connect to NATS failed; `kind` says why, and so does the message (the client's error is `cause`). */
export class NatsConnectError extends Error {
  constructor(
    readonly kind: NatsConnectCause,
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'NatsConnectError';
  }
}

function readable(path: string, what: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (e) {
    throw new NatsConnectError('config', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, e);
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new NatsConnectError('config', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, e);
  }
}

/** The NATS client's options for `auth` and `tls`; throws NatsConnectError ('config') for unreadable files. */
export function natsSecurityOptions(auth: NatsAuth | undefined, tls: NatsTls | undefined): Partial<ConnectionOptions> {
  const out: Partial<ConnectionOptions> = {};
  if (auth !== undefined) {
    if ('token' in auth) out.authenticator = tokenAuthenticator(auth.token);
    else if ('user' in auth) out.authenticator = usernamePasswordAuthenticator(auth.user, auth.pass);
    else if ('nkeySeed' in auth) out.authenticator = nkeyAuthenticator(new TextEncoder().encode(auth.nkeySeed.trim()));
    else if ('nkeySeedFile' in auth) out.authenticator = nkeyAuthenticator(new TextEncoder().encode(readText(auth.nkeySeedFile, 'nkey seed file').trim()));
    else {
      const file = auth.credsFile;
      readable(file, 'credentials file');
      out.authenticator = credsAuthenticator(() => new TextEncoder().encode(readText(file, 'credentials file')));
    }
  }
  if (tls !== undefined) {
    if ((tls.cert === undefined) !== (tls.key === undefined)) throw new NatsConnectError('config', 'TLS client certificate and key go together: give both or neither');
    const t: TlsOptions & { servername?: string } = {};
    if (tls.ca !== undefined) readable((t.caFile = tls.ca), 'TLS CA file');
    if (tls.cert !== undefined) readable((t.certFile = tls.cert), 'TLS certificate file');
    if (tls.key !== undefined) readable((t.keyFile = tls.key), 'TLS key file');
    if (tls.serverName !== undefined) t.servername = tls.serverName; // handed to node:tls as is: SNI and the name checked
    out.tls = t;
  }
  return out;
}

/** Error codes of node:tls and OpenSSL: a TLS handshake or certificate check that failed. */
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|CERT_|HOSTNAME_MISMATCH|ERR_OSSL_)/;
/** Node's error codes for a server that cannot be reached. */
const UNREACHABLE_CODE = /^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|EADDRNOTAVAIL)$/;

function codeOf(e: unknown): string | undefined {
  for (let x = e, depth = 0; x instanceof Error && depth < 5; x = x.cause, depth++) {
    const code = (x as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** What the first connect was. */
export interface ConnectAttempt {
  servers: string;
  /** TLS was asked for. */
  tls: boolean;
  /** A client certificate was given. */
  clientCert: boolean;
  timeoutMs: number;
}

/**
 * Names the cause of a failed first connect. Pure: the client's error in, a NatsConnectError out, its message
 * `cannot connect to NATS at <servers>: <cause>`.
 */
export function connectFailure(e: unknown, at: ConnectAttempt): NatsConnectError {
  if (e instanceof NatsConnectError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const head = `cannot connect to NATS at ${at.servers}:`;
  if (e instanceof AuthorizationError || e instanceof UserAuthenticationExpiredError) {
    return new NatsConnectError('auth', `${head} authentication failed (check token/user/nkey/creds): ${msg}`, e);
  }
  const code = codeOf(e);
  if ((code !== undefined && TLS_CODE.test(code)) || /server does not support 'tls'|certificate|ssl|tls/i.test(msg)) {
    const detail = /server does not support 'tls'/.test(msg) ? 'the server does not offer TLS' : msg;
    return new NatsConnectError('tls', `${head} TLS handshake failed (${detail})`, e);
  }
  if (e instanceof ConnectionError && /doesn't exist/.test(msg)) return new NatsConnectError('config', `${head} cannot read a TLS file: ${msg}`, e);
  if (e instanceof TimeoutError) {
    const hint = at.tls && !at.clientCert ? '; TLS: the server may require a client certificate (tls.cert and tls.key)' : '';
    return new NatsConnectError('unreachable', `${head} no handshake within ${at.timeoutMs} ms (is nats-server running?${hint})`, e);
  }
  if ((code !== undefined && UNREACHABLE_CODE.test(code)) || e instanceof ConnectionError) {
    return new NatsConnectError('unreachable', `${head} server unreachable (is nats-server running?): ${msg}`, e);
  }
  return new NatsConnectError('unreachable', `${head} ${msg}`, e);
}
