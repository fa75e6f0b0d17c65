/**
 * The built `mq` command line against nats-servers that require a token and TLS: the flags reach the
 * connection, and a failed connect is one line naming the cause.
 */
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { runMq, spawnMq, type MqProcess, type MqRun } from '../support/mq-process.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs.js';

jest.setTimeout(60_000);

let certs: TestCertificates;
let tokenServer: NatsServer;
let tlsServer: NatsServer;
const running: MqProcess[] = [];

beforeAll(async () => {
  certs = makeTestCertificates();
  tokenServer = await startNatsServer({ extraConfig: 'authorization { token: "s3cret" }' });
  tlsServer = await startNatsServer({
    extraConfig: `tls {\n  cert_file: ${JSON.stringify(certs.serverCertFile)}\n  key_file: ${JSON.stringify(certs.serverKeyFile)}\n  ca_file: ${JSON.stringify(certs.caFile)}\n  verify: true\n}`,
  });
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(3000)));
  await tokenServer?.stop();
  await tlsServer?.stop();
  certs?.remove();
});

function oneLineError(r: MqRun, pattern: RegExp): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

const empty = { brokerAddrTable: {}, clusterAddrTable: {} };

it('a token: the right one (flag or environment) runs a name server and admin; a wrong one says authentication failed', async () => {
  const conn = ['--nats', tokenServer.url, '--prefix', 'tok'];
  const ns = spawnMq(['namesrv', '--id', 'ns-1', ...conn], { env: { MQ_NATS_TOKEN: 's3cret' } });
  running.push(ns);
  await ns.waitForLine(/^namesrv ns-1 ready$/, 15_000);
  const ok = await runMq(['admin', 'cluster', '--namesrv', 'ns-1', '--json', ...conn, '--nats-token', 's3cret']);
  expect(ok.code).toBe(0);
  expect(JSON.parse(ok.lines[0]!)).toEqual(empty);
  oneLineError(await runMq(['admin', 'cluster', '--namesrv', 'ns-1', ...conn, '--nats-token', 'wrong']), /^mq: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: authentication failed \(check token\/user\/nkey\/creds\)/);
});

it('TLS with a client certificate runs admin; another CA says the TLS handshake failed', async () => {
  const conn = ['--nats', tlsServer.url, '--prefix', 'tls', '--nats-tls-ca', certs.caFile];
  const client = ['--nats-tls-cert', certs.clientCertFile, '--nats-tls-key', certs.clientKeyFile];
  const ns = spawnMq(['namesrv', '--id', 'ns-1', ...conn, ...client]);
  running.push(ns);
  await ns.waitForLine(/^namesrv ns-1 ready$/, 15_000);
  const ok = await runMq(['admin', 'cluster', '--namesrv', 'ns-1', '--json', ...conn, ...client]);
  expect(ok.code).toBe(0);
  expect(JSON.parse(ok.lines[0]!)).toEqual(empty);
  const bad = ['--nats', tlsServer.url, '--nats-tls-ca', certs.otherCaFile, ...client];
  oneLineError(await runMq(['admin', 'cluster', '--namesrv', 'ns-1', ...bad]), /^mq: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: TLS handshake failed \(/);
});

it('mq broker refuses --direct-tls-cert without --direct-tls-key', async () => {
  const r = await runMq(['broker', '--name', 'b', '--namesrv', 'ns-1', '--store', certs.dir, '--nats', tlsServer.url, '--nats-tls-ca', certs.caFile, '--nats-tls-cert', certs.clientCertFile, '--nats-tls-key', certs.clientKeyFile, '--direct-tls-cert', certs.serverCertFile]);
  oneLineError(r, /^mq: --direct-tls-cert and --direct-tls-key go together/);
});
