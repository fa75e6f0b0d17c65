import type { Logger } from 'pino';
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import type { Clock, TimerHandle } from '../../../core/clock.js';
import type { RandomSource } from '../../../core/random.js';
import { Status, StatusError } from '../../../core/status.js';
import type { StorageBackend } from '../../../store/backend.js';
import { appendEpoch, loadEpochs, saveEpochs, type EpochEntry } from '../../../store/epoch-file.js';
import type { Frame } from '../../../transports/frame.js';
import type { HaEpochsReply, HaStatus } from '../../protocol/commands.js';
import { brokerAddress } from '../../protocol/commands.js';
import type { HeartbeatAnswer } from '../../protocol/ha-controller.js';
import { writtenBelow } from '../put-message.js';
import type { StorePort, StorePutResult, ReplicationPort } from '../store-port.js';
import type { MasterConfig, SlaveConfigReport } from './config-sync.js';
import type { ControllerPort } from './controller-port.js';
import { HaMaster, type ReplicaAck } from './ha-master.js';
import type { HaSettings } from './ha-options.js';
import { HaSlave, type HaSlaveDeps } from './ha-slave.js';

/**
 * A broker's replication role and the parts that play it.
 *
 * Fixed roles (no controller): id 0 is its group's master; it serves its slaves' HA_PULL requests, and with
 * `mode: 'sync'` its writes wait for their replicas. A higher id is a slave: it follows `broker.<name>.0`, takes
 * no writes and runs no scheduler (what they would write comes from the master's log).
 *
 * Under a controller (`ha.controller`): the broker heartbeats every heartbeatMs and the answer decides its role.
 * Named master of epoch E, it appends <E, write offset> to its epoch file, starts its writers (schedulers,
 * transactions) and registers as the group's master (id 0) with its epoch; it takes writes only while its lease
 * holds (its own clock below the time it sent the renewing heartbeat plus the lease), and a write whose lease ran
 * out before its replicas answered is answered FLUSH_SLAVE_TIMEOUT (stored here, maybe not in the group). Told
 * another is master, it stops its writers, compares epochs with the new master and cuts a divergent tail
 * (ha-slave.ts), and follows. Consumers read only below the confirm offset (ha-master.ts).
 */

export type HaRole = 'master' | 'slave' | 'none';

/** A broker's role at a moment: master, slave of `master`, or none (not known yet, or stepped down), in `epoch`. */
export interface HaRoleState {
  role: HaRole;
  /** The master epoch (under a controller; 0 without one). */
  epoch: number;
  /** On a slave: the address of the master it follows. */
  master?: string;
}

export interface BrokerHa {
  readonly role: HaRole;
  readonly master?: HaMaster;
  readonly slave?: HaSlave;
  /** The role now and each change of it (same role, epoch and master: no new value); completes when the broker stops. */
  readonly role$: Observable<HaRoleState>;
  /** The id the broker registers under: 0 as master, its own id otherwise. */
  registrationId(): number;
  /** Under a controller: the epoch to register with (undefined without a controller). */
  registrationEpoch(): number | undefined;
  /** Before a write: why it is refused (not the master, no lease, too few in-sync replicas), else undefined. */
  refuseWrite(): ReplicaAck | undefined;
  /** After a write ending at `end`: OK once its replicas (and the lease) allow, else why not (it is stored). */
  ackWrite(end: number): Promise<ReplicaAck>;
  /** Whether a write needs ackWrite at all (an async master without a controller does not). */
  readonly acksWrites: boolean;
  /** A fixed async master (no controller): writes go to the store as they are. */
  readonly passThrough: boolean;
  /** Whether consumers may read here now: not before the broker knows its role and, as a slave, cut a divergent tail. */
  readable(): boolean;
  /**
   * Whether a pull past a queue's end waits here instead of being corrected down (see pullOutcome): on a slave,
   * and on any broker under a controller, where the end is what this replica serves now, not the group's.
   */
  holdsOverflow(): boolean;
  status(): HaStatus;
  /** HA_SYNC_CONFIG on a master: takes a slave's offsets, answers with its own state. */
  serveConfig(report: SlaveConfigReport): MasterConfig;
  /** HA_GET_EPOCHS on a master. */
  epochsReply(): HaEpochsReply;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface HaDeps {
  brokerName: string;
  brokerId: number;
  address: string;
  repl: ReplicationPort;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  settings: HaSettings;
  maxPayload: () => number;
  request: HaSlaveDeps['request'];
  offsets: HaSlaveDeps['offsets'];
  applyConfig: HaSlaveDeps['applyConfig'];
  /** The master's side of a config sync (config-sync.ts masterConfig over the broker's parts). */
  serveConfig: (report: SlaveConfigReport) => MasterConfig;
  /** Where the epoch file lives. */
  storage: StorageBackend;
  storeDir: string;
  /** The master's topic table version (see HaMasterDeps.topicsVersion). */
  topicsVersion?: () => string;
  /** The group's controller (with `ha.controller`). */
  controller?: ControllerPort;
  /** What runs only on a master: the schedulers and the transaction service. */
  writers: { start(): Promise<void>; stop(): Promise<void> };
  /** The role or epoch changed: register again at once. */
  roleChanged: () => void;
}

const OK: ReplicaAck = Object.freeze({ status: Status.OK });
const OK_NOW: Promise<ReplicaAck> = Promise.resolve(OK);

export class HaService implements BrokerHa {
  private current: HaRole = 'none';
  private masterPart: HaMaster | undefined;
  private slavePart: HaSlave | undefined;
  private epochs: EpochEntry[] = [];
  /** The epoch this broker serves in (under a controller). */
  private epoch = 0;
  private following: string | undefined;
  /** The lease, on this broker's clock (under a controller). */
  private leaseUntil = -Infinity;
  private approved: number[] = [];
  private syncEpoch = 0;
  private hbTimer: TimerHandle | undefined;
  private stopped = false;
  /** Role changes, one after another. */
  private changes: Promise<void> = Promise.resolve();
  private proposing = false;
  private controllerError: string | undefined;
  /** This process's token in heartbeats (a master heard from a new one restarted: see ha-controller.ts). */
  private readonly session: string;
  private readonly roles = new BehaviorSubject<HaRoleState>({ role: 'none', epoch: 0 });
  readonly role$: Observable<HaRoleState> = this.roles.pipe(distinctUntilChanged((a, b) => a.role === b.role && a.epoch === b.epoch && a.master === b.master));

  constructor(private readonly d: HaDeps) {
    this.session = `${d.random.int(0x7fffffff).toString(16)}${d.random.int(0x7fffffff).toString(16)}`;
    if (d.controller !== undefined && d.brokerId === 0) {
      throw new StatusError(Status.INVALID_ARGUMENT, `broker ${d.address}: under a controller broker ids start at 1 (the master, whichever it is, serves as id 0 in routes)`);
    }
  }

  /** Tells role$ and the broker (which registers again) of a role or epoch change. */
  private changed(): void {
    this.roles.next({ role: this.current, epoch: this.epoch, ...(this.following !== undefined ? { master: this.following } : {}) });
    this.d.roleChanged();
  }

  get role(): HaRole {
    return this.current;
  }
  get master(): HaMaster | undefined {
    return this.masterPart;
  }
  get slave(): HaSlave | undefined {
    return this.slavePart;
  }
  get acksWrites(): boolean {
    return this.d.controller !== undefined || this.d.settings.mode === 'sync';
  }

  get passThrough(): boolean {
    return this.d.controller === undefined && this.d.brokerId === 0 && this.d.settings.mode === 'async';
  }

  readable(): boolean {
    if (!this.d.controller) return true;
    return this.current === 'master' || (this.current === 'slave' && this.slavePart?.aligned === true);
  }

  holdsOverflow(): boolean {
    return this.d.controller !== undefined || this.current !== 'master';
  }

  registrationId(): number {
    return this.current === 'master' ? 0 : this.d.brokerId;
  }

  registrationEpoch(): number | undefined {
    return this.d.controller ? this.epoch : undefined;
  }

  async start(): Promise<void> {
    if (this.d.controller === undefined) {
      if (this.d.brokerId === 0) await this.becomeMaster(0);
      else await this.becomeSlave(brokerAddress(this.d.brokerName, 0), 0);
      return;
    }
    this.epochs = loadEpochs(this.d.storage, this.d.storeDir, this.d.repl.positions().writeOffset);
    // epoch 0 until the controller names a role: a restarted master is not confirmed in the epoch it held
    // what this broker holds beyond what a group confirmed is not served before its role is known
    this.d.repl.limitDispatch(this.d.repl.positions().dispatched);
    this.tick();
  }

  // ------------------------------------------------------------------------------------------ writes

  refuseWrite(): ReplicaAck | undefined {
    const m = this.masterPart;
    if (this.current !== 'master' || m === undefined) {
      const what = this.current === 'slave' ? `a slave of ${this.d.brokerName} (following ${this.following ?? '?'})` : `not the master of ${this.d.brokerName} now`;
      return { status: Status.SERVICE_NOT_AVAILABLE, message: `broker ${this.d.address} is ${what}: it takes no writes (send to the master)` };
    }
    if (this.d.controller && this.d.clock.now() >= this.leaseUntil) {
      return { status: Status.SERVICE_NOT_AVAILABLE, message: `broker ${this.d.address} holds no lease of its controller now: it takes no writes until it is confirmed master` };
    }
    return m.refuseWrite();
  }

  ackWrite(end: number): Promise<ReplicaAck> {
    const m = this.masterPart;
    if (m === undefined) return Promise.resolve({ status: Status.FLUSH_SLAVE_TIMEOUT, message: 'stored, but the broker stopped being master before its replicas answered' });
    const replicas = m.sync ? m.waitForReplicas(end) : OK_NOW;
    if (!this.d.controller) return replicas;
    return replicas.then((ack) => {
      if (ack.status !== Status.OK) return ack;
      if (this.masterPart === m && this.d.clock.now() < this.leaseUntil) return OK;
      return { status: Status.FLUSH_SLAVE_TIMEOUT, message: `stored on ${this.d.address}, but its lease ran out before it could answer: another master may not have it` };
    });
  }

  // ------------------------------------------------------------------------------------------ controller

  private tick(): void {
    if (this.stopped || !this.d.controller) return;
    const sendAt = this.d.clock.now();
    this.masterPart?.reviewInSync();
    const report = {
      brokerName: this.d.brokerName,
      brokerId: this.d.brokerId,
      address: this.d.address,
      epoch: this.epoch,
      writeOffset: this.d.repl.positions().writeOffset,
      session: this.session,
    };
    this.d.controller
      .heartbeat(report)
      .then((a) => {
        if (this.controllerError !== undefined) this.d.logger.info('the controller answers again');
        this.controllerError = undefined;
        return this.enqueue(() => this.apply(a, sendAt));
      })
      .catch((err: unknown) => {
        const why = err instanceof Error ? err.message : String(err);
        if (why !== this.controllerError) this.d.logger.warn({ err }, 'controller heartbeat failed; the lease runs out unless one succeeds');
        this.controllerError = why;
      })
      .finally(() => {
        if (!this.stopped) this.hbTimer = this.d.clock.setTimeout(() => this.tick(), this.d.settings.heartbeatMs);
      });
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.changes.then(step).catch((err: unknown) => this.d.logger.error({ err }, 'a role change failed; the next heartbeat tries again'));
    this.changes = next;
    return next;
  }

  private async apply(a: HeartbeatAnswer, sendAt: number): Promise<void> {
    if (this.stopped) return;
    if (a.masterId === this.d.brokerId) {
      // named on another broker's heartbeat: no lease until this broker's own next one
      this.leaseUntil = a.leader ? sendAt + a.leaseMs : this.epoch === a.epoch ? this.leaseUntil : -Infinity;
      if (this.current !== 'master' || this.epoch !== a.epoch) {
        this.approved = [...a.inSync];
        this.syncEpoch = a.syncEpoch;
        await this.becomeMaster(a.epoch);
        return;
      }
      if (a.syncEpoch !== this.syncEpoch) {
        this.approved = [...a.inSync];
        this.syncEpoch = a.syncEpoch;
        this.masterPart?.approvedChanged();
      }
      return;
    }
    if (a.masterId !== null && a.masterAddress !== null) {
      if (this.current !== 'slave' || this.following !== a.masterAddress || this.epoch !== a.epoch) await this.becomeSlave(a.masterAddress, a.epoch);
      return;
    }
    if (this.current === 'master') await this.stepDown();
  }

  private propose(inSync: number[]): void {
    const c = this.d.controller;
    if (!c || this.proposing || this.current !== 'master') return;
    this.proposing = true;
    c.alterSyncState({ brokerName: this.d.brokerName, masterId: this.d.brokerId, epoch: this.epoch, syncEpoch: this.syncEpoch, inSync })
      .then((r) => {
        if (!r.ok) {
          this.d.logger.info({ reason: r.reason, proposed: inSync }, 'the controller refused an in-sync set change');
          return;
        }
        this.d.logger.info({ inSync: r.inSync, syncEpoch: r.syncEpoch }, 'in-sync set changed');
        this.approved = [...r.inSync];
        this.syncEpoch = r.syncEpoch;
        this.masterPart?.approvedChanged();
      })
      .catch((err: unknown) => this.d.logger.warn({ err }, 'could not change the in-sync set at the controller'))
      .finally(() => {
        this.proposing = false;
      });
  }

  // ------------------------------------------------------------------------------------------ roles

  private async becomeMaster(epoch: number): Promise<void> {
    if (this.slavePart) {
      await this.slavePart.stop();
      this.slavePart = undefined;
    }
    this.masterPart?.stop();
    if (this.d.controller) {
      this.epochs = appendEpoch(this.epochs, epoch, this.d.repl.positions().writeOffset);
      await saveEpochs(this.d.storage, this.d.storeDir, this.epochs);
      this.d.logger.warn({ epoch, startOffset: this.d.repl.positions().writeOffset }, 'this broker is now the master of its group');
    }
    this.epoch = epoch;
    this.following = undefined;
    this.masterPart = new HaMaster({
      ...this.d,
      ...(this.d.controller
        ? { controlled: { approved: () => this.approved, epochs: () => this.epochs, propose: (s: number[]) => this.propose(s) } }
        : {}),
    });
    const wasMaster = this.current === 'master';
    this.current = 'master';
    if (!wasMaster) await this.d.writers.start();
    this.changed();
  }

  private async becomeSlave(master: string, epoch: number): Promise<void> {
    await this.stepDown();
    if (this.slavePart) await this.slavePart.stop();
    this.epoch = epoch;
    this.following = master;
    this.current = 'slave';
    if (this.d.controller) this.d.logger.warn({ epoch, master }, 'this broker now follows the master of its group');
    this.slavePart = new HaSlave({
      ...this.d,
      master: () => master,
      ...(this.d.controller
        ? {
            controlled: {
              epochs: () => this.epochs,
              setEpochs: async (entries: EpochEntry[]) => {
                this.epochs = entries;
                await saveEpochs(this.d.storage, this.d.storeDir, entries);
              },
            },
          }
        : {}),
    });
    this.slavePart.start();
    this.changed();
  }

  /** A master that is no longer one: answers what waits, stops its writers. */
  private async stepDown(): Promise<void> {
    if (this.current !== 'master') return;
    this.leaseUntil = -Infinity;
    this.masterPart?.stop();
    this.masterPart = undefined;
    this.current = 'none';
    this.d.logger.warn({ epoch: this.epoch }, 'this broker is no longer the master of its group');
    await this.d.writers.stop();
    this.changed();
  }

  // ------------------------------------------------------------------------------------------ status

  status(): HaStatus {
    const ctl = this.d.controller ? { epoch: this.epoch } : {};
    if (this.masterPart) {
      const s = this.masterPart.status();
      const c = this.masterPart.confirmOffset();
      return { ...s, ...ctl, ...(c !== Infinity ? { confirmOffset: c } : {}) };
    }
    if (this.slavePart) return { ...this.slavePart.status(), ...ctl };
    const pos = this.d.repl.positions();
    return { brokerName: this.d.brokerName, brokerId: this.d.brokerId, address: this.d.address, role: 'none', ...ctl, writeOffset: pos.writeOffset, flushedOffset: pos.flushedOffset };
  }

  serveConfig(report: SlaveConfigReport): MasterConfig {
    if (this.current !== 'master') throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${this.d.address} is not the master: ask the master for the configuration`);
    return this.d.serveConfig(report);
  }

  epochsReply(): HaEpochsReply {
    if (!this.masterPart) throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${this.d.address} is not the master`);
    return this.masterPart.epochsReply();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.d.clock.clearTimeout(this.hbTimer);
    await this.changes;
    this.masterPart?.stop();
    await this.slavePart?.stop();
    this.roles.complete();
  }
}

/**
 * The store port the broker's writers (sends, send-backs, transactions, schedulers) use: writes are refused
 * where the role forbids them (a slave, a master without lease or with too few in-sync replicas) and answered
 * only once replicas and lease allow (else FLUSH_SLAVE_TIMEOUT: stored, with its offsets). An async master
 * without a controller takes the store as it is.
 */
export function wrapStore(store: StorePort, ha: BrokerHa): StorePort {
  if (ha.passThrough) return store;
  return {
    ...store,
    putMessages: async (batch) => {
      const refused = ha.refuseWrite();
      if (refused) return { ...refused, results: [] };
      const r = await store.putMessages(batch);
      if (r.status !== Status.OK || !ha.acksWrites) return r;
      const ack = await ha.ackWrite(writtenBelow(r));
      return ack.status === Status.OK ? r : withStatus(r, ack.status, ack.message);
    },
  };
}

/** A stored batch's result under another status (its offsets and ids kept). */
function withStatus(r: StorePutResult, status: number, message: string | undefined): StorePutResult {
  const out: StorePutResult = { ...r, status, results: r.results };
  if (r.count !== undefined) out.count = r.count;
  if (message !== undefined) out.message = message;
  return out;
}

/** The broker's HA handlers' door: the master, or a clear refusal. */
export function masterOf(ha: BrokerHa | undefined, frame: Frame, address: string): HaMaster {
  if (ha?.master === undefined) throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${address} is not a master: replication request ${frame.code} refused`);
  return ha.master;
}
