/**
 * Signing in one place: an ActorIo whose requests and one-way frames carry the credentials' signature
 * (actors/protocol/acl/signing.ts), stamped with the io's clock. Producers, consumers and brokers given
 * credentials are built on it, so every request they send is signed without a call site knowing.
 */
import { Status, StatusError } from '../../core/status.js';
import { signFrame, type Credentials } from '../protocol/acl/signing.js';
import type { ActorIo } from './actor-host.js';

/** Checks credentials given as an option: both keys non-empty strings (INVALID_ARGUMENT otherwise). */
export function checkCredentials(c: Credentials | undefined): Credentials | undefined {
  if (c === undefined) return undefined;
  const ok = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
  if (c === null || typeof c !== 'object' || !ok(c.accessKey) || !ok(c.secretKey))
    throw new StatusError(Status.INVALID_ARGUMENT, 'credentials must be { accessKey, secretKey }, both non-empty strings');
  return { accessKey: c.accessKey, secretKey: c.secretKey };
}

/** `io` itself without credentials; otherwise an io that signs every frame it sends. */
export function signedIo(io: ActorIo, credentials: Credentials | undefined): ActorIo {
  if (credentials === undefined) return io;
  const sign = (f: Parameters<ActorIo['send']>[1]) => signFrame(f, credentials, io.clock.now());
  return {
    ...io,
    request: (to, frame, timeoutMs) => io.request(to, sign(frame), timeoutMs),
    send: (to, frame) => io.send(to, sign(frame)),
  };
}
