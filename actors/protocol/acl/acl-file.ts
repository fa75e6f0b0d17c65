/**
 * The ACL file, in the manner of RocketMQ's plain_acl.yml but JSON (the project has no YAML dependency):
 *
 *   { "accounts": [ { "accessKey": "...", "secretKey": "...", "admin": false, "broker": false,
 *                      "defaultTopicPerm": "DENY", "defaultGroupPerm": "SUB",
 *                      "topicPerms": ["orders=PUB|SUB", "audit=DENY"], "groupPerms": ["billing=SUB"] } ] }
 *
 * `admin` accounts may send the admin requests (create or delete topics, ...); `broker` accounts (and admin
 * ones) may register brokers at a name server. Defaults are DENY when not given, as RocketMQ's.
 * `parseAclFile` parses and validates everything before returning, so a caller swaps whole rule sets only.
 */
import { parsePerm, Perm, PermParseError, type PermBits } from './perm.js';

export interface AclAccount {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly admin: boolean;
  /** May register and unregister brokers at a name server. */
  readonly broker: boolean;
  readonly defaultTopicPerm: PermBits;
  readonly defaultGroupPerm: PermBits;
  readonly topicPerms: ReadonlyMap<string, PermBits>;
  readonly groupPerms: ReadonlyMap<string, PermBits>;
}

/** A validated rule set: accounts by access key. */
export interface AclRules {
  readonly accounts: ReadonlyMap<string, AclAccount>;
}

/** An ACL file that cannot be used, with the first reason found. */
export class AclFileError extends Error {
  readonly code = 'EACL';
  constructor(message: string) {
    super(message);
    this.name = 'AclFileError';
  }
}

/** Shortest access and secret key (RocketMQ's rule). */
export const MIN_KEY_LENGTH = 6;
const KEY_RE = /^[\x21-\x7e]+$/;
const ACCOUNT_FIELDS = new Set(['accessKey', 'secretKey', 'admin', 'broker', 'defaultTopicPerm', 'defaultGroupPerm', 'topicPerms', 'groupPerms']);

function key(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length < MIN_KEY_LENGTH || !KEY_RE.test(v))
    throw new AclFileError(`${what} must be a string of at least ${MIN_KEY_LENGTH} printable characters without spaces`);
  return v;
}

function flag(v: unknown, what: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new AclFileError(`${what} must be true or false`);
  return v;
}

function perm(v: unknown, what: string): PermBits {
  if (v === undefined) return Perm.DENY;
  if (typeof v !== 'string') throw new AclFileError(`${what} must be a permission text (DENY, PUB, SUB, PUB|SUB)`);
  try {
    return parsePerm(v);
  } catch (err) {
    if (err instanceof PermParseError) throw new AclFileError(`${what}: ${err.message}`);
    throw err;
  }
}

function perms(v: unknown, what: string): Map<string, PermBits> {
  const out = new Map<string, PermBits>();
  if (v === undefined) return out;
  if (!Array.isArray(v)) throw new AclFileError(`${what} must be a list of "name=PERM" texts`);
  v.forEach((entry: unknown, i) => {
    const at = `${what}[${i}]`;
    if (typeof entry !== 'string') throw new AclFileError(`${at} must be a "name=PERM" text`);
    const eq = entry.lastIndexOf('=');
    const name = eq < 0 ? '' : entry.slice(0, eq).trim();
    if (name === '') throw new AclFileError(`${at} "${entry}" must be "name=PERM"`);
    if (out.has(name)) throw new AclFileError(`${at}: "${name}" is listed twice`);
    out.set(name, perm(entry.slice(eq + 1).trim(), at));
  });
  return out;
}

/** Validates a parsed JSON document as an ACL file. */
export function validateAclRules(doc: unknown): AclRules {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new AclFileError('the ACL file must be a JSON object { "accounts": [...] }');
  const list = (doc as { accounts?: unknown }).accounts;
  if (!Array.isArray(list)) throw new AclFileError('"accounts" must be a list');
  const accounts = new Map<string, AclAccount>();
  list.forEach((a: unknown, i) => {
    const at = `accounts[${i}]`;
    if (a === null || typeof a !== 'object' || Array.isArray(a)) throw new AclFileError(`${at} must be an object`);
    const o = a as Record<string, unknown>;
    for (const f of Object.keys(o)) if (!ACCOUNT_FIELDS.has(f)) throw new AclFileError(`${at}: unknown field "${f}"`);
    const accessKey = key(o.accessKey, `${at}.accessKey`);
    if (accounts.has(accessKey)) throw new AclFileError(`${at}: access key "${accessKey}" is listed twice`);
    accounts.set(accessKey, {
      accessKey,
      secretKey: key(o.secretKey, `${at}.secretKey`),
      admin: flag(o.admin, `${at}.admin`),
      broker: flag(o.broker, `${at}.broker`),
      defaultTopicPerm: perm(o.defaultTopicPerm, `${at}.defaultTopicPerm`),
      defaultGroupPerm: perm(o.defaultGroupPerm, `${at}.defaultGroupPerm`),
      topicPerms: perms(o.topicPerms, `${at}.topicPerms`),
      groupPerms: perms(o.groupPerms, `${at}.groupPerms`),
    });
  });
  return { accounts };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Parses and validates the bytes of an ACL file; AclFileError says what is wrong. */
export function parseAclFile(bytes: Uint8Array): AclRules {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new AclFileError('the ACL file is not valid UTF-8');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new AclFileError(`the ACL file is not valid JSON: ${(err as Error).message}`);
  }
  return validateAclRules(doc);
}
