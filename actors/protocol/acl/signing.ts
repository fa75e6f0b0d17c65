/**
 * Request signatures: HMAC-SHA256, keyed by the account's secret key, over a canonical text of the request
 * code and its header fields sorted by key (the signature field left out), followed by the body's bytes. The
 * signer adds the header fields AccessKey, Timestamp (ms since the epoch, the signer's clock) and Signature
 * (base64). The body goes into the HMAC as it is, in one update over its view: no copy, one pass.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Frame, Header } from '../../../transports/frame.js';

export const ACCESS_KEY_FIELD = 'AccessKey';
export const SIGNATURE_FIELD = 'Signature';
export const TIMESTAMP_FIELD = 'Timestamp';

/** What a client signs with. */
export interface Credentials {
  readonly accessKey: string;
  readonly secretKey: string;
}

/**
 * The canonical text of a request's code and header: JSON of `[code, [[key, value], ...]]`, keys sorted, the
 * Signature field left out. JSON keeps types apart (`1` is not `"1"`) and ends unambiguously before the body.
 */
export function canonicalHeader(code: number, header: Header): string {
  const keys = Object.keys(header)
    .filter((k) => k !== SIGNATURE_FIELD)
    .sort();
  return JSON.stringify([code, keys.map((k) => [k, header[k]])]);
}

/** The base64 HMAC-SHA256 of a request (canonical header, then body) under `secretKey`. */
export function computeSignature(secretKey: string, code: number, header: Header, body: Uint8Array): string {
  const h = createHmac('sha256', secretKey);
  h.update(canonicalHeader(code, header), 'utf8');
  if (body.length > 0) h.update(body);
  return h.digest('base64');
}

/** `frame` with AccessKey, Timestamp (`now`) and Signature added to its header (the body is shared, not copied). */
export function signFrame(frame: Frame, creds: Credentials, now: number): Frame {
  const header: Record<string, string | number | boolean> = { ...frame.header, [ACCESS_KEY_FIELD]: creds.accessKey, [TIMESTAMP_FIELD]: now };
  delete header[SIGNATURE_FIELD];
  header[SIGNATURE_FIELD] = computeSignature(creds.secretKey, frame.code, header, frame.body);
  return { ...frame, header };
}

/** Whether the frame's Signature is the one `secretKey` gives (compared in constant time). */
export function signatureMatches(secretKey: string, frame: Frame): boolean {
  const given = frame.header[SIGNATURE_FIELD];
  if (typeof given !== 'string') return false;
  const expected = Buffer.from(computeSignature(secretKey, frame.code, frame.header, frame.body), 'base64');
  const actual = Buffer.from(given, 'base64');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
