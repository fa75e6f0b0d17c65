/* What the NATS authentication and TLS flags (flags.ts) mean for natsTransport. */
import type { NatsAuth, NatsTls } from '../../transports/nats-auth.js';
import { CliError, type NatsSecurityFlags } from './flags.js';

/** The transport's `auth` and `tls` from the flags; a CliError for flags that do not go together. */
export function natsSecurity(f: NatsSecurityFlags): { auth?: NatsAuth; tls?: NatsTls } {
  const given = [
    f.natsToken !== undefined && '--nats-token',
    (f.natsUser !== undefined || f.natsPass !== undefined) && '--nats-user/--nats-pass',
    f.natsNkey !== undefined && '--nats-nkey',
    f.natsCreds !== undefined && '--nats-creds',
  ].filter((x): x is string => x !== false);
  if (given.length > 1) throw new CliError(`give one NATS authentication, not ${given.join(' and ')}`);
  let auth: NatsAuth | undefined;
  if (f.natsToken !== undefined) auth = { token: f.natsToken };
  else if (f.natsUser !== undefined || f.natsPass !== undefined) {
    if (f.natsUser === undefined || f.natsPass === undefined) throw new CliError('--nats-user and --nats-pass go together');
    auth = { user: f.natsUser, pass: f.natsPass };
  } else if (f.natsNkey !== undefined) auth = { nkeySeedFile: f.natsNkey };
  else if (f.natsCreds !== undefined) auth = { credsFile: f.natsCreds };

  if ((f.natsTlsCert === undefined) !== (f.natsTlsKey === undefined)) throw new CliError('--nats-tls-cert and --nats-tls-key go together');
  const anyTls = f.natsTls === true || [f.natsTlsCa, f.natsTlsCert, f.natsTlsKey, f.natsTlsServerName].some((x) => x !== undefined);
  const tls: NatsTls | undefined = anyTls
    ? {
        ...(f.natsTlsCa !== undefined ? { ca: f.natsTlsCa } : {}),
        ...(f.natsTlsCert !== undefined ? { cert: f.natsTlsCert } : {}),
        ...(f.natsTlsKey !== undefined ? { key: f.natsTlsKey } : {}),
        ...(f.natsTlsServerName !== undefined ? { serverName: f.natsTlsServerName } : {}),
      }
    : undefined;
  return { ...(auth ? { auth } : {}), ...(tls ? { tls } : {}) };
}
