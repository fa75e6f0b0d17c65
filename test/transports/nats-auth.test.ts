/**
 * NATS authentication and TLS: each method against a nats-server configured for it (certificates made here with
 * openssl), the cause named when the first connect fails, and direct links under TLS.
 */
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthorizationError, ConnectionError, TimeoutError, nkeys } from '@nats-io/transport-node';
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import pino from 'pino';
import { RealClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { lengthPrefix } from '../../transports/direct-wire.js';
import { frame } from '../../transports/frame.js';
import { NatsConnectError, connectFailure, natsSecurityOptions } from '../../transports/nats-auth.js';
import { natsTransport, type NatsTransport, type NatsTransportOptions } from '../../transports/nats.js';
import type { Incoming, Transport, TransportDeps } from '../../transports/transport.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs.js';

const silent = pino({ level: 'silent' });
const deps = (): TransportDeps => ({ clock: new RealClock(), random: new SeededRandom(1), logger: silent });
const utf8 = new TextEncoder();

const opened: Transport[] = [];
async function open(opts: NatsTransportOptions): Promise<NatsTransport> {
  const t = (await natsTransport({ prefix: 'auth', connectTimeoutMs: 3000, ...opts })(deps())) as NatsTransport;
  opened.push(t);
  return t;
}

/** What a failed open rejects with. */
async function failure(opts: NatsTransportOptions): Promise<NatsConnectError> {
  const t0 = Date.now();
  const e = await open(opts).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(NatsConnectError);
  expect(Date.now() - t0).toBeLessThan(5000);
  return e as NatsConnectError;
}

/** A request/reply round from `a` to an echo served by `b`. */
async function round(a: Transport, b: Transport, address = 'svc.echo'): Promise<void> {
  const sub = b.inbox(address).subscribe((i: Incoming) => i.reply?.(frame({ code: i.frame.code, body: i.frame.body })));
  try {
    await b.flush();
    const r = await a.request(address, frame({ code: 5, body: utf8.encode('hello') }), { timeoutMs: 3000 });
    expect(r.code).toBe(5);
    expect(Buffer.from(r.body).toString()).toBe('hello');
  } finally {
    sub.unsubscribe();
  }
}

let certs: TestCertificates;
const servers: Record<string, NatsServer> = {};
const user = nkeys.createUser();
const seed = new TextDecoder().decode(user.getSeed());
let freePort: number;

/**
 * An operator, an account it signs and the server configuration that trusts them (operator mode, accounts in
 * memory), and credentials files of users the account signs: what `nsc` makes for a real deployment.
 */
async function operatorSetup(): Promise<{ config: string; creds: (signer?: 'account' | 'stranger') => Promise<Uint8Array> }> {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const unlimited = { data: -1, payload: -1, subs: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const accountJwt = await encodeAccount('mq', account, { limits: unlimited }, { signer: operator });
  const config = `operator: ${await encodeOperator('mq-operator', operator)}\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: ${accountJwt}\n}`;
  const creds = async (signer: 'account' | 'stranger' = 'account'): Promise<Uint8Array> => {
    const u = nkeys.createUser();
    return fmtCreds(await encodeUser('mq-user', u, signer === 'account' ? account : nkeys.createAccount()), u);
  };
  return { config, creds };
}
let jwtUsers: Awaited<ReturnType<typeof operatorSetup>>['creds'];

beforeAll(async () => {
  certs = makeTestCertificates();
  const tls = (verify: boolean): string =>
    `tls {\n  cert_file: ${JSON.stringify(certs.serverCertFile)}\n  key_file: ${JSON.stringify(certs.serverKeyFile)}\n  ca_file: ${JSON.stringify(certs.caFile)}\n  verify: ${verify}\n  timeout: 2\n}`;
  const configs: Record<string, string> = {
    token: 'authorization { token: "s3cret" }',
    userPass: 'authorization { user: "alice", password: "wonderland" }',
    nkey: `authorization { users: [ { nkey: "${user.getPublicKey()}" } ] }`,
    mtls: tls(true),
    tls: tls(false),
  };
  const op = await operatorSetup();
  configs.jwt = op.config;
  jwtUsers = op.creds;
  for (const [name, extraConfig] of Object.entries(configs)) servers[name] = await startNatsServer({ extraConfig });
  freePort = await new Promise<number>((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}, 60_000);

afterEach(async () => {
  for (const t of opened.splice(0)) await t.close().catch(() => undefined);
});

afterAll(async () => {
  for (const s of Object.values(servers)) await s.stop();
  certs?.remove();
});

describe('authentication', () => {
  test('token: the right one connects and serves a round; a wrong or missing one fails as authentication', async () => {
    const url = servers.token!.url;
    const a = await open({ servers: url, auth: { token: 's3cret' } });
    const b = await open({ servers: url, auth: { token: 's3cret' } });
    await round(a, b);
    for (const auth of [{ token: 'wrong' }, undefined]) {
      const e = await failure({ servers: url, ...(auth ? { auth } : {}) });
      expect(e.kind).toBe('auth');
      expect(e.message).toMatch(/^cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: authentication failed \(check token\/user\/nkey\/creds\)/);
    }
  });

  test('user and password', async () => {
    const url = servers.userPass!.url;
    const a = await open({ servers: url, auth: { user: 'alice', pass: 'wonderland' } });
    const b = await open({ servers: url, auth: { user: 'alice', pass: 'wonderland' } });
    await round(a, b);
    const e = await failure({ servers: url, auth: { user: 'alice', pass: 'looking-glass' } });
    expect(e.kind).toBe('auth');
    expect(e.message).toMatch(/authentication failed/);
  });

  test('nkey seed, given or in a file', async () => {
    const url = servers.nkey!.url;
    const file = join(certs.dir, 'user.nk');
    writeFileSync(file, `${seed}\n`);
    const a = await open({ servers: url, auth: { nkeySeed: seed } });
    const b = await open({ servers: url, auth: { nkeySeedFile: file } });
    await round(a, b);
    const other = new TextDecoder().decode(nkeys.createUser().getSeed());
    const e = await failure({ servers: url, auth: { nkeySeed: other } });
    expect(e.kind).toBe('auth');
  });

  test('credentials file: a user JWT the operator of the server trusts, its seed signing the nonce', async () => {
    const url = servers.jwt!.url;
    const file = async (name: string, creds: Uint8Array): Promise<string> => {
      const path = join(certs.dir, name);
      writeFileSync(path, creds);
      return path;
    };
    const a = await open({ servers: url, auth: { credsFile: await file('a.creds', await jwtUsers()) } });
    const b = await open({ servers: url, auth: { credsFile: await file('b.creds', await jwtUsers()) } });
    await round(a, b);
    // a user of an account the operator never signed
    expect((await failure({ servers: url, auth: { credsFile: await file('stranger.creds', await jwtUsers('stranger')) } })).kind).toBe('auth');
    // a trusted user's JWT with another user's seed: the nonce signature does not match
    const good = new TextDecoder().decode(await jwtUsers());
    const otherSeed = new TextDecoder().decode(nkeys.createUser().getSeed());
    const swapped = good.replace(/(-----BEGIN USER NKEY SEED-----\n)\S+/, `$1${otherSeed}`);
    expect(swapped).not.toBe(good);
    expect((await failure({ servers: url, auth: { credsFile: await file('swapped.creds', Buffer.from(swapped)) } })).kind).toBe('auth');
    const missing = await failure({ servers: url, auth: { credsFile: join(certs.dir, 'none.creds') } });
    expect(missing.kind).toBe('config');
    expect(missing.message).toMatch(/cannot read credentials file .*none\.creds: ENOENT/);
  });

  test('nothing listening fails at once as unreachable', async () => {
    const e = await failure({ servers: `nats://127.0.0.1:${freePort}`, auth: { token: 's3cret' } });
    expect(e.kind).toBe('unreachable');
    expect(e.message).toMatch(/^cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: server unreachable \(is nats-server running\?\)/);
  });
});

describe('TLS', () => {
  const mtls = (): NatsTransportOptions['tls'] => ({ ca: certs.caFile, cert: certs.clientCertFile, key: certs.clientKeyFile });

  test('with the CA and a client certificate, a server that verifies clients serves a round', async () => {
    const url = servers.mtls!.url;
    const a = await open({ servers: url, tls: mtls() });
    const b = await open({ servers: url, tls: { ...mtls(), serverName: 'localhost' } });
    expect(a.usesTls).toBe(true);
    await round(a, b);
  });

  test('a certificate from another CA, a wrong server name, no TLS asked, or TLS to a plain server fail as TLS', async () => {
    const url = servers.mtls!.url;
    const cases: NatsTransportOptions[] = [
      { servers: url, tls: { ...mtls(), ca: certs.otherCaFile } },
      { servers: url, tls: { ...mtls(), serverName: 'not-this-server.example' } },
      { servers: url }, // the server requires TLS; the system CAs do not know its certificate
      { servers: servers.token!.url, auth: { token: 's3cret' }, tls: { ca: certs.caFile } },
    ];
    for (const c of cases) {
      const e = await failure(c);
      expect(e.kind).toBe('tls');
      expect(e.message).toMatch(/^cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: TLS handshake failed \(.+\)/);
    }
    expect((await failure(cases[3]!)).message).toMatch(/the server does not offer TLS/);
  });

  test('no client certificate for a server that verifies clients: no handshake in time, with the hint', async () => {
    const e = await failure({ servers: servers.mtls!.url, tls: { ca: certs.caFile }, connectTimeoutMs: 1000 });
    expect(e.message).toMatch(/no handshake within 1000 ms .*may require a client certificate/);
  });

  test('unreadable certificate files and a certificate without its key are configuration errors', async () => {
    const url = servers.tls!.url;
    const e = await failure({ servers: url, tls: { ca: join(certs.dir, 'missing.pem') } });
    expect(e.kind).toBe('config');
    expect(e.message).toMatch(/cannot read TLS CA file .*missing\.pem: ENOENT/);
    expect((await failure({ servers: url, tls: { ca: certs.caFile, cert: certs.clientCertFile } })).message).toMatch(/certificate and key go together/);
  });
});

describe('direct links under TLS', () => {
  test('a listener on TLS NATS speaks TLS; requests go over the link; a plain hello is cut', async () => {
    const url = servers.tls!.url;
    const b = await open({ servers: url, tls: { ca: certs.caFile }, direct: { tls: { cert: certs.serverCertFile, key: certs.serverKeyFile } } });
    const a = await open({ servers: url, tls: { ca: certs.caFile } });
    expect(b.directEndpoint).toMatchObject({ host: '127.0.0.1', tls: true });
    const sub = b.inbox('svc.d').subscribe((i: Incoming) => i.reply?.(frame({ code: i.frame.code, body: i.frame.body })));
    await b.flush();
    expect(await a.linkTo('svc.d')).toBe(true);
    expect(b.directStats!.connections).toBe(1);
    await round(a, b, 'svc.d');
    sub.unsubscribe();

    // the right token in plain TCP is no hello to a TLS listener
    const ep = b.directEndpoint!;
    const raw = net.connect({ host: ep.host, port: ep.port });
    const hello = utf8.encode(`${ep.token}\nsvc.d`);
    raw.on('connect', () => raw.write(Buffer.concat([lengthPrefix(hello.length), hello])));
    raw.on('error', () => undefined);
    await new Promise<void>((resolve) => raw.on('close', () => resolve()));
    expect(b.directStats!.cuts.badHello).toBe(1);
  });

  test('a requester checks the listener certificate: one not made for the advertised host means no link, and NATS carries the request', async () => {
    const url = servers.tls!.url;
    // the client certificate names "client", not 127.0.0.1
    const b = await open({ servers: url, tls: { ca: certs.caFile }, direct: { tls: { cert: certs.clientCertFile, key: certs.clientKeyFile } } });
    const a = await open({ servers: url, tls: { ca: certs.caFile } });
    const sub = b.inbox('svc.x').subscribe((i: Incoming) => i.reply?.(frame({ code: i.frame.code, body: i.frame.body })));
    await b.flush();
    expect(await a.linkTo('svc.x')).toBe(false);
    await round(a, b, 'svc.x');
    sub.unsubscribe();
  });

  test('on TLS NATS, a listener without a certificate refuses to start; with direct: false the transport connects', async () => {
    const url = servers.tls!.url;
    await expect(open({ servers: url, tls: { ca: certs.caFile }, direct: {} })).rejects.toThrow(/direct links must use TLS because the NATS connection does/);
    const t = await open({ servers: url, tls: { ca: certs.caFile }, direct: false });
    expect(t.directEndpoint).toBeUndefined();
  });

  test('on plain NATS, links stay plain TCP', async () => {
    const url = servers.token!.url;
    const b = await open({ servers: url, auth: { token: 's3cret' }, direct: {} });
    expect(b.directEndpoint?.tls).toBeUndefined();
  });
});

describe('connectFailure names the cause', () => {
  const at = { servers: 'nats://h:1', tls: false, clientCert: false, timeoutMs: 500 };
  test.each([
    ['auth', 'Authorization Violation', new AuthorizationError('Authorization Violation'), /^cannot connect to NATS at nats:\/\/h:1: authentication failed/],
    ['unreachable', 'connection refused', new ConnectionError('connection refused', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }), /^cannot connect to NATS at nats:\/\/h:1: server unreachable \(is nats-server running\?\)/],
    ['unreachable', 'ENOTFOUND', Object.assign(new Error('getaddrinfo ENOTFOUND h'), { code: 'ENOTFOUND' }), /server unreachable/],
    ['unreachable', 'timeout', new TimeoutError(), /no handshake within 500 ms/],
    ['tls', 'unknown CA', Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), /^cannot connect to NATS at nats:\/\/h:1: TLS handshake failed \(unable to verify/],
    ['tls', 'wrong name', Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), /TLS handshake failed/],
    ['tls', 'plain server', new ConnectionError("server does not support 'tls'"), /the server does not offer TLS/],
  ] as const)('%s: %s', (kind, _label, err, message) => {
    const e = connectFailure(err, at);
    expect(e.kind).toBe(kind);
    expect(e.message).toMatch(message);
    expect(e.cause).toBe(err);
  });

  test('a timeout with TLS and no client certificate hints at one', () => {
    expect(connectFailure(new TimeoutError(), { ...at, tls: true }).message).toMatch(/may require a client certificate/);
    expect(connectFailure(new TimeoutError(), at).message).not.toMatch(/client certificate/);
  });

  test('natsSecurityOptions builds one authenticator per method and TLS file options', () => {
    expect(natsSecurityOptions(undefined, undefined)).toEqual({});
    expect(typeof natsSecurityOptions({ token: 't' }, undefined).authenticator).toBe('function');
    expect(natsSecurityOptions({ token: 't' }, undefined).tls).toBeUndefined();
    expect(natsSecurityOptions(undefined, {}).tls).toEqual({});
    expect(() => natsSecurityOptions({ nkeySeedFile: '/nonexistent/seed.nk' }, undefined)).toThrow(/cannot read nkey seed file/);
  });
});
