/**
 * The whole ACL decision for one request, as a pure function of the rules, the frame and the verifier's time:
 * the account named by AccessKey exists, the Timestamp is within the replay window, the Signature is the
 * account's, and the account has what the request needs (access.ts). A refusal is NO_PERMISSION with a message
 * that names what is missing (`account "ak" lacks PUB on topic "orders"`).
 */
import type { Frame } from '../../../transports/frame.js';
import { Status, StatusError } from '../../../core/status.js';
import { requestCodeName } from '../request-codes.js';
import type { AclAccount, AclRules } from './acl-file.js';
import { accessNeed, type ResourceNeed } from './access.js';
import { allows, permName, type PermBits } from './perm.js';
import { timestampProblem } from './replay.js';
import { ACCESS_KEY_FIELD, signatureMatches, TIMESTAMP_FIELD } from './signing.js';

export type AclVerdict = { ok: true; account: AclAccount } | { ok: false; status: number; message: string };

/** The permission `account` holds on a resource: its own entry, else its default for the kind. */
export function grantedPerm(account: AclAccount, kind: 'topic' | 'group', name: string): PermBits {
  if (kind === 'topic') return account.topicPerms.get(name) ?? account.defaultTopicPerm;
  return account.groupPerms.get(name) ?? account.defaultGroupPerm;
}

/** The first need `account` does not meet, or undefined. */
export function missingPerm(account: AclAccount, needs: readonly ResourceNeed[]): ResourceNeed | undefined {
  return needs.find((n) => !allows(grantedPerm(account, n.kind, n.name), n.perm));
}

const refuse = (message: string): AclVerdict => ({ ok: false, status: Status.NO_PERMISSION, message });

export function authorize(rules: AclRules, frame: Frame, now: number, windowMs: number): AclVerdict {
  const what = requestCodeName(frame.code);
  const ak = frame.header[ACCESS_KEY_FIELD];
  if (typeof ak !== 'string' || ak.length === 0) return refuse(`${what} is not signed: an AccessKey is needed`);
  const account = rules.accounts.get(ak);
  if (account === undefined) return refuse(`${what}: unknown access key "${ak}"`);
  const late = timestampProblem(frame.header[TIMESTAMP_FIELD], now, windowMs);
  if (late !== undefined) return refuse(`${what}: ${late}`);
  if (!signatureMatches(account.secretKey, frame)) return refuse(`${what}: the signature does not match access key "${ak}"`);
  let need;
  try {
    need = accessNeed(frame);
  } catch (err) {
    if (err instanceof StatusError) return { ok: false, status: err.status, message: err.message };
    throw err;
  }
  if (need.kind === 'admin') return account.admin ? { ok: true, account } : refuse(`account "${ak}" is not an admin account, which ${what} needs`);
  if (need.kind === 'registration')
    return account.admin || account.broker ? { ok: true, account } : refuse(`account "${ak}" is neither an admin nor a broker account, which ${what} needs`);
  const missing = missingPerm(account, need.needs);
  if (missing !== undefined) return refuse(`account "${ak}" lacks ${permName(missing.perm)} on ${missing.kind} "${missing.name}" (${what})`);
  return { ok: true, account };
}
