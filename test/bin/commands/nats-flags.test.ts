import { natsServers } from '../../../bin/commands/connect.js';
import { Command } from 'commander';
import { connectionOptions } from '../../../bin/commands/flags.js';
import { natsSecurity } from '../../../bin/commands/nats-flags.js';

/** Parses `args` as a command with the connection flags, as every connecting `mq` command has them. */
function parse(args: string[]): ReturnType<typeof natsSecurity> {
  const cmd = connectionOptions(new Command('x').exitOverride());
  cmd.parse(args, { from: 'user' });
  return natsSecurity(cmd.opts());
}

describe('mq NATS authentication and TLS flags', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    for (const k of ['MQ_NATS_TOKEN', 'MQ_NATS_USER', 'MQ_NATS_PASS']) delete process.env[k];
  });
  afterAll(() => {
    process.env = saved;
  });

  it('give each authentication method and TLS to the transport', () => {
    expect(parse([])).toEqual({});
    expect(parse(['--nats-token', 't'])).toEqual({ auth: { token: 't' } });
    expect(parse(['--nats-user', 'u', '--nats-pass', 'p'])).toEqual({ auth: { user: 'u', pass: 'p' } });
    expect(parse(['--nats-nkey', 'seed.nk'])).toEqual({ auth: { nkeySeedFile: 'seed.nk' } });
    expect(parse(['--nats-creds', 'u.creds'])).toEqual({ auth: { credsFile: 'u.creds' } });
    expect(parse(['--nats-tls'])).toEqual({ tls: {} });
    expect(parse(['--nats-tls-ca', 'ca.pem', '--nats-tls-cert', 'c.pem', '--nats-tls-key', 'c.key', '--nats-tls-server-name', 'nats.local'])).toEqual({
      tls: { ca: 'ca.pem', cert: 'c.pem', key: 'c.key', serverName: 'nats.local' },
    });
  });

  it('take secrets from the environment', () => {
    process.env.MQ_NATS_TOKEN = 'from-env';
    expect(parse([])).toEqual({ auth: { token: 'from-env' } });
  });

  it('refuse flags that do not go together', () => {
    expect(() => parse(['--nats-token', 't', '--nats-creds', 'u.creds'])).toThrow('give one NATS authentication, not --nats-token and --nats-creds');
    expect(() => parse(['--nats-user', 'u'])).toThrow('--nats-user and --nats-pass go together');
    expect(() => parse(['--nats-tls-cert', 'c.pem'])).toThrow('--nats-tls-cert and --nats-tls-key go together');
  });
});

describe('--nats', () => {
  it('takes one URL or several, comma separated', () => {
    expect(natsServers('nats://a:4222')).toEqual(['nats://a:4222']);
    expect(natsServers('nats://a:4222, nats://b:4222,')).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(() => natsServers(' , ')).toThrow('--nats: expected a NATS server URL, got " , "');
  });
});
