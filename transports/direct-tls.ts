/**
 * TLS for direct links (direct.ts), decided from the NATS connection's TLS: when the NATS connection is TLS,
 * links are TLS too. A listener then needs a certificate: its own (`direct.tls`), else the NATS client
 * certificate; without one it refuses to start. A requester whose NATS connection is TLS opens only TLS links,
 * checking the listener's certificate against the NATS CA (the system's when none is given) and the advertised
 * host; a listener offering plain TCP is not used (its traffic stays on NATS). Plain NATS keeps plain links
 * unless the listener is given a certificate.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions, SecureContextOptions } from 'node:tls';
import { DirectListenError } from './direct.js';
import type { NatsTls } from './nats-auth.js';

/** A direct listener's own certificate and key (file paths). */
export interface DirectTlsFiles {
  cert: string;
  key: string;
}

/** How a requester opens links. */
export interface DirectClientTls {
  /** Only TLS links: the NATS connection is TLS. */
  required: boolean;
  /** Options for node:tls `connect` (the host's name checks are added per link). */
  options: ConnectionOptions;
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new DirectListenError(`cannot read ${what} ${path} for direct links: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * The listener's TLS (certificate and key), or undefined for plain TCP. Throws DirectListenError when the NATS
 * connection is TLS and no certificate is given.
 */
export function directListenerTls(natsUsesTls: boolean, nats: NatsTls | undefined, own: DirectTlsFiles | undefined): SecureContextOptions | undefined {
  const files = own ?? (nats?.cert !== undefined && nats.key !== undefined ? { cert: nats.cert, key: nats.key } : undefined);
  if (files === undefined) {
    if (!natsUsesTls) return undefined;
    throw new DirectListenError(
      'direct links must use TLS because the NATS connection does: give the listener a certificate (direct.tls { cert, key }, or a NATS client certificate tls.cert/tls.key), or turn direct links off',
    );
  }
  return { cert: read(files.cert, 'certificate'), key: read(files.key, 'key') };
}

/** How a requester opens links, from its NATS TLS. */
export function directClientTls(natsUsesTls: boolean, nats: NatsTls | undefined): DirectClientTls {
  const options: ConnectionOptions = {};
  if (nats?.ca !== undefined) options.ca = read(nats.ca, 'CA file');
  return { required: natsUsesTls, options };
}

/** The options for one TLS link to `host`: SNI only for names (not addresses); the certificate is checked against `host`. */
export function linkTlsOptions(tls: DirectClientTls, host: string): ConnectionOptions {
  return isIP(host) === 0 ? { ...tls.options, servername: host } : { ...tls.options };
}
