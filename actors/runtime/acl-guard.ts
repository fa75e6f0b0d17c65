/**
 * The ACL as a running service of a broker or name server: the rules read from `aclFile` through the
 * Environment's storage, the check of each request (actors/protocol/acl/authorize.ts) on the Environment's
 * clock, and the reload: every `reloadMs` the file is read again and, when its content hash changed, parsed
 * and validated in full before the rules are swapped. A file that is missing, unreadable or invalid keeps the
 * old rules and is logged at error (once per distinct content).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Frame } from '../../transports/frame.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { StorageBackend } from '../../store/backend.js';
import { AclFileError, parseAclFile, type AclRules } from '../protocol/acl/acl-file.js';
import { authorize, type AclVerdict } from '../protocol/acl/authorize.js';
import { DEFAULT_REPLAY_WINDOW_MS } from '../protocol/acl/replay.js';

/** How often the ACL file is looked at by default. */
export const DEFAULT_ACL_RELOAD_MS = 5_000;

export interface AclGuardOptions {
  storage: StorageBackend;
  /** The ACL file (JSON; see acl-file.ts). */
  path: string;
  clock: Clock;
  logger: Logger;
  /** How often the file is looked at for changes (default 5000 ms; 0: never). */
  reloadMs?: number;
  /** Accepted distance of a request's Timestamp from this clock, either way (default 60000 ms). */
  replayWindowMs?: number;
}

function readAll(storage: StorageBackend, path: string): Uint8Array {
  if (!storage.exists(path)) throw new AclFileError(`ACL file ${path} does not exist`);
  const f = storage.open(path, { create: false });
  try {
    return f.read(0, f.size());
  } finally {
    f.close();
  }
}

const hashOf = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export class AclGuard {
  private rules: AclRules;
  /** Hash of the content the rules came from, and of the last content refused (logged once). */
  private loadedHash: string;
  private refusedHash: string | undefined;
  private timer: TimerHandle | undefined;
  private readonly windowMs: number;

  /** Reads and validates the file (AclFileError, or the storage's error, when it cannot be used) and starts watching it. */
  constructor(private readonly opts: AclGuardOptions) {
    const bytes = readAll(opts.storage, opts.path);
    this.rules = parseAclFile(bytes);
    this.loadedHash = hashOf(bytes);
    this.windowMs = opts.replayWindowMs ?? DEFAULT_REPLAY_WINDOW_MS;
    const every = opts.reloadMs ?? DEFAULT_ACL_RELOAD_MS;
    if (every > 0) this.timer = opts.clock.setInterval(() => this.reload(), every);
  }

  /** Whether `frame` may be served, and if not, the status and message to answer with. */
  check(frame: Frame): AclVerdict {
    return authorize(this.rules, frame, this.opts.clock.now(), this.windowMs);
  }

  /** The rules in force. */
  current(): AclRules {
    return this.rules;
  }

  /** Looks at the file once: 'reloaded', 'unchanged', or 'kept' (the file cannot be used; the old rules stay). */
  reload(): 'reloaded' | 'unchanged' | 'kept' {
    let bytes: Uint8Array;
    try {
      bytes = readAll(this.opts.storage, this.opts.path);
    } catch (err) {
      return this.keep('<unreadable>', err);
    }
    const hash = hashOf(bytes);
    if (hash === this.loadedHash) return 'unchanged';
    if (hash === this.refusedHash) return 'kept';
    let rules: AclRules;
    try {
      rules = parseAclFile(bytes);
    } catch (err) {
      return this.keep(hash, err);
    }
    this.rules = rules;
    this.loadedHash = hash;
    this.refusedHash = undefined;
    this.opts.logger.info({ aclFile: this.opts.path, accounts: rules.accounts.size }, 'ACL file reloaded');
    return 'reloaded';
  }

  private keep(hash: string, err: unknown): 'kept' {
    if (hash !== this.refusedHash) this.opts.logger.error({ err, aclFile: this.opts.path }, 'ACL file not reloaded: the previous rules stay in force');
    this.refusedHash = hash;
    return 'kept';
  }

  stop(): void {
    this.opts.clock.clearInterval(this.timer);
    this.timer = undefined;
  }
}
