import { BehaviorSubject, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../core/clock.js';

/**
 * The broker's registrations with its name servers: which of them have it, and retries of those that do not.
 * A name server that did not answer is asked again after a short backoff (doubling up to a bound) until it
 * answers; after that only the regular interval registers again. A name server that announces its start is
 * asked at once. The requests themselves come from the caller (`register`), so this holds no I/O of its own
 * but the clock's timers.
 */

export interface RetryPolicy {
  /** The wait before the first retry. */
  initialMs: number;
  /** The longest wait between retries. */
  maxMs: number;
}

export const DEFAULT_REGISTER_RETRY: RetryPolicy = { initialMs: 100, maxMs: 3_000 };

/** The wait before the next retry: `initialMs` first, then doubling up to `maxMs`. */
export function nextRetryDelay(previousMs: number | undefined, policy: RetryPolicy): number {
  return previousMs === undefined ? Math.min(policy.initialMs, policy.maxMs) : Math.min(previousMs * 2, policy.maxMs);
}

/**
 * `register` made to run one call at a time per name server: the parts of one registration must not meet
 * another's (each first part replaces the unfinished ones at the name server). A call while one runs waits for
 * it, and the calls made meanwhile share that one next attempt, which registers what is current by then.
 */
export function oneAtATime(register: (id: string) => Promise<void>): (id: string) => Promise<void> {
  const running = new Map<string, Promise<void>>();
  const next = new Map<string, Promise<void>>();
  const start = (id: string): Promise<void> => {
    const p = register(id).finally(() => {
      if (running.get(id) === p) running.delete(id);
    });
    running.set(id, p);
    return p;
  };
  return (id) => {
    const queued = next.get(id);
    if (queued !== undefined) return queued;
    const current = running.get(id);
    if (current === undefined) return start(id);
    const after = current
      .catch(() => undefined)
      .then(() => {
        next.delete(id);
        return start(id);
      });
    next.set(id, after);
    return after;
  };
}

export interface RegistrationStatus {
  /** Name servers whose latest registration was answered OK, in the order the broker was given them. */
  readonly registered: readonly string[];
  /** The others: not answered yet, or their latest registration failed. */
  readonly missing: readonly string[];
}

/** The status of `namesrv` given the ids that have the broker. */
export function registrationStatus(namesrv: readonly string[], ok: ReadonlySet<string>): RegistrationStatus {
  return { registered: namesrv.filter((id) => ok.has(id)), missing: namesrv.filter((id) => !ok.has(id)) };
}

/** spawnBroker's wait for every name server ran out. */
export class RegistrationTimeoutError extends Error {
  readonly code = 'EREGISTERTIMEOUT';
  constructor(
    readonly missing: readonly string[],
    readonly registered: readonly string[],
    waitedMs: number,
  ) {
    const got = registered.length > 0 ? `; registered with ${registered.join(', ')}` : '';
    super(`name server${missing.length === 1 ? '' : 's'} ${missing.join(', ')} did not register the broker within ${waitedMs} ms${got}`);
    this.name = 'RegistrationTimeoutError';
  }
}

/** The broker stopped while something waited for its registrations. */
export class RegistrationStoppedError extends Error {
  readonly code = 'EREGISTERSTOPPED';
  constructor() {
    super('the broker stopped before every name server had it');
    this.name = 'RegistrationStoppedError';
  }
}

export interface RegistrationDeps {
  clock: Clock;
  logger: Logger;
  /** The name server ids, as the broker was given them. */
  namesrv: readonly string[];
  retry: RetryPolicy;
  /** One registration request to name server `id`: resolves once it answered OK, rejects otherwise. */
  register(id: string): Promise<void>;
}

interface PerNameServer {
  ok: boolean;
  /** Attempts started; an outcome counts only if no later-started attempt has settled first. */
  started: number;
  settled: number;
  retryTimer: TimerHandle | undefined;
  retryDelayMs: number | undefined;
  /** Whether a failure was already logged since the last success (retries log at debug). */
  warned: boolean;
}

export class Registrations {
  private readonly byId = new Map<string, PerNameServer>();
  private readonly inflight = new Set<Promise<boolean>>();
  private readonly statusSubject: BehaviorSubject<RegistrationStatus>;
  private stopped = false;
  /** Every change of which name servers have the broker. */
  readonly status$: Observable<RegistrationStatus>;

  constructor(private readonly deps: RegistrationDeps) {
    for (const id of deps.namesrv) this.byId.set(id, { ok: false, started: 0, settled: 0, retryTimer: undefined, retryDelayMs: undefined, warned: false });
    this.statusSubject = new BehaviorSubject(this.compute());
    this.status$ = this.statusSubject.asObservable();
  }

  status(): RegistrationStatus {
    return this.statusSubject.value;
  }

  /** Registers with every name server; resolves with how many answered OK once each answered or failed. */
  async all(): Promise<number> {
    const results = await Promise.all(this.deps.namesrv.map((id) => this.one(id)));
    return results.filter(Boolean).length;
  }

  /** Registers with every name server; resolves at the first OK answer, or once every one failed. */
  async first(): Promise<void> {
    const calls = this.deps.namesrv.map((id) => this.one(id).then((ok) => (ok ? Promise.resolve() : Promise.reject(new Error(id)))));
    await Promise.any(calls).catch(() => undefined);
  }

  /**
   * Registers with name server `id` now; resolves with whether it answered OK. A failure schedules a retry
   * unless one is pending; a success cancels it.
   */
  one(id: string): Promise<boolean> {
    const st = this.byId.get(id);
    if (!st || this.stopped) return Promise.resolve(false);
    const attempt = ++st.started;
    const p = this.deps.register(id).then(
      () => {
        this.settle(id, st, attempt, undefined);
        return true;
      },
      (err: unknown) => {
        this.settle(id, st, attempt, err);
        return false;
      },
    );
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  /** A name server announced its start: register with it at once, with a fresh backoff. */
  announced(id: string): void {
    const st = this.byId.get(id);
    if (!st || this.stopped) return;
    this.deps.clock.clearTimeout(st.retryTimer);
    st.retryTimer = undefined;
    st.retryDelayMs = undefined;
    void this.one(id);
  }

  /**
   * Resolves once every name server has the broker; rejects with RegistrationTimeoutError naming the missing
   * ones when that takes longer than `timeoutMs` (the retries go on).
   */
  whenAll(timeoutMs: number): Promise<void> {
    if (this.status().missing.length === 0) return Promise.resolve();
    if (this.stopped) return Promise.reject(new RegistrationStoppedError());
    const clock = this.deps.clock;
    return new Promise<void>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      let settled = false;
      const finish = (err: Error | undefined): void => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(timer);
        queueMicrotask(() => sub.unsubscribe());
        if (err) reject(err);
        else resolve();
      };
      const sub = this.status$.subscribe({
        next: (s) => {
          if (s.missing.length === 0) finish(undefined);
        },
        complete: () => finish(new RegistrationStoppedError()),
      });
      timer = clock.setTimeout(() => {
        const s = this.status();
        finish(new RegistrationTimeoutError(s.missing, s.registered, timeoutMs));
      }, timeoutMs);
    });
  }

  /** Cancels the retries and waits for the requests in flight, so none lands after an unregistration. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const st of this.byId.values()) {
      this.deps.clock.clearTimeout(st.retryTimer);
      st.retryTimer = undefined;
    }
    await Promise.all([...this.inflight]);
    this.statusSubject.complete();
  }

  private settle(id: string, st: PerNameServer, attempt: number, err: unknown): void {
    if (attempt < st.settled) return; // a later attempt already told us where this name server stands
    st.settled = attempt;
    const { logger, clock } = this.deps;
    const wasOk = st.ok;
    st.ok = err === undefined;
    if (st.ok) {
      clock.clearTimeout(st.retryTimer);
      st.retryTimer = undefined;
      st.retryDelayMs = undefined;
      st.warned = false;
      if (!wasOk) logger.info({ namesrv: id }, 'registered with name server');
    } else {
      if (!st.warned) logger.warn({ err, namesrv: id }, 'registration failed; retrying');
      else logger.debug({ err, namesrv: id }, 'registration retry failed');
      st.warned = true;
      if (st.retryTimer === undefined && !this.stopped) {
        const delay = nextRetryDelay(st.retryDelayMs, this.deps.retry);
        st.retryDelayMs = delay;
        st.retryTimer = clock.setTimeout(() => {
          st.retryTimer = undefined;
          void this.one(id);
        }, delay);
      }
    }
    if (wasOk !== st.ok && !this.stopped) this.statusSubject.next(this.compute());
  }

  private compute(): RegistrationStatus {
    const ok = new Set<string>();
    for (const [id, st] of this.byId) if (st.ok) ok.add(id);
    return registrationStatus(this.deps.namesrv, ok);
  }
}
