/**
 * Request signatures: HMAC-SHA256, keyed by the account's secret key, over a canonical text of the request
 * code and its header fields sorted by key (the signature field left out), followed by the body's bytes. The
 * signer adds the header fields AccessKey, Timestamp (ms since the epoch, the signer's clock) and Signature
 * (base64). The body goes into the HMAC as it is, in one update over its view: no copy, one pass.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Frame, Header, HeaderValue } from '../../../transports/frame.js';

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
  const keys = Object.keys(header).sort();
  // the text JSON.stringify([code, [[key, value], ...]]) gives, without the arrays (once per request)
  let text = `[${code},[`;
  let first = true;
  for (const k of keys) {
    if (k === SIGNATURE_FIELD) continue;
    text += `${first ? '' : ','}[${JSON.stringify(k)},${JSON.stringify(header[k])}]`;
    first = false;
  }
  return `${text}]]`;
}

/** Secret keys as key objects, made once per secret (bounded: past 1024 secrets the cache starts again). */
const keyObjects = new Map<string, KeyObject>();
function keyObject(secretKey: string): KeyObject {
  let k = keyObjects.get(secretKey);
  if (k === undefined) {
    if (keyObjects.size >= 1024) keyObjects.clear();
    k = createSecretKey(Buffer.from(secretKey, 'utf8'));
    keyObjects.set(secretKey, k);
  }
  return k;
}

/** The HMAC-SHA256 of a request (canonical header, then body) under `secretKey`. */
function requestHmac(secretKey: string, code: number, header: Header, body: Uint8Array): Buffer {
  const h = createHmac('sha256', keyObject(secretKey));
  h.update(canonicalHeader(code, header), 'utf8');
  if (body.length > 0) h.update(body);
  return h.digest();
}

/** The base64 HMAC-SHA256 of a request (canonical header, then body) under `secretKey`. */
export function computeSignature(secretKey: string, code: number, header: Header, body: Uint8Array): string {
  return requestHmac(secretKey, code, header, body).toString('base64');
}

/** `frame` with AccessKey, Timestamp (`now`) and Signature added to its header (the body is shared, not copied). */
export function signFrame(frame: Frame, creds: Credentials, now: number): Frame {
  const header: Record<string, HeaderValue> = {};
  for (const k in frame.header) if (k !== SIGNATURE_FIELD) header[k] = frame.header[k]!;
  header[ACCESS_KEY_FIELD] = creds.accessKey;
  header[TIMESTAMP_FIELD] = now;
  header[SIGNATURE_FIELD] = computeSignature(creds.secretKey, frame.code, header, frame.body);
  return { ...frame, header };
}

/** Whether the frame's Signature is the one `secretKey` gives (compared in constant time). */
export function signatureMatches(secretKey: string, frame: Frame): boolean {
  const given = frame.header[SIGNATURE_FIELD];
  if (typeof given !== 'string') return false;
  const expected = requestHmac(secretKey, frame.code, frame.header, frame.body);
  const actual = Buffer.from(given, 'base64');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
