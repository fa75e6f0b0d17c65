import type { StorageBackend } from '../../store/backend.js';
import { ConfigError, readJsonFile, writeJsonAtomic } from '../../store/config-file.js';
import { PERM_INHERIT, PERM_READ_WRITE, type DataVersion, type TopicConfig } from '../protocol/route.js';
import { Status, StatusError } from '../../core/status.js';
import { AUTO_CREATE_TOPIC, DLQ_TOPIC_PREFIX, RETRY_TOPIC_PREFIX, SCHEDULE_TOPIC, isSystemTopic, topicProblem } from '../protocol/validation.js';

/**
 * The broker's topic table: which topics it serves, with how many read/write queues and which permissions.
 * Plain data and functions; the broker persists it to `<storeDir>/config/topics.json` after every change and
 * registers the new table (and its bumped DataVersion) with the name servers.
 */

export const MAX_QUEUE_NUMS = 1024;
export const DEFAULT_QUEUE_NUMS = 4;
const PERM_MASK = 7;

/** What topics.json holds. */
export interface TopicsFile {
  dataVersion: DataVersion;
  topics: TopicConfig[];
}

export interface TopicTableOptions {
  /** Create unknown topics on first send (default true). */
  autoCreate?: boolean;
  /** Read and write queues of an auto-created topic (default 4). */
  defaultQueueNums?: number;
}

export function nextDataVersion(prev: DataVersion, now: number): DataVersion {
  return { timestamp: Math.max(now, prev.timestamp), counter: prev.counter + 1 };
}

/** Checks a topic configuration from outside (admin request, file); returns a clean copy or throws INVALID_ARGUMENT. */
export function validateTopicConfig(cfg: unknown, allowSystem = false): TopicConfig {
  if (cfg === null || typeof cfg !== 'object') throw new StatusError(Status.INVALID_ARGUMENT, 'topic config must be an object');
  const c = cfg as Partial<TopicConfig>;
  const p = topicProblem(c.topicName, { allowSystem });
  if (p) throw new StatusError(Status.INVALID_ARGUMENT, p);
  const nums = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_QUEUE_NUMS)
      throw new StatusError(Status.INVALID_ARGUMENT, `${what} must be an integer in [1, ${MAX_QUEUE_NUMS}], got ${String(v)}`);
    return v;
  };
  const perm = c.perm ?? PERM_READ_WRITE;
  if (typeof perm !== 'number' || !Number.isInteger(perm) || perm < 0 || (perm & ~PERM_MASK) !== 0)
    throw new StatusError(Status.INVALID_ARGUMENT, `perm must be a combination of PERM_READ, PERM_WRITE and PERM_INHERIT, got ${String(perm)}`);
  const sys = c.topicSysFlag ?? 0;
  if (typeof sys !== 'number' || !Number.isInteger(sys) || sys < 0) throw new StatusError(Status.INVALID_ARGUMENT, 'topicSysFlag must be a non-negative integer');
  return {
    topicName: c.topicName as string,
    readQueueNums: nums(c.readQueueNums, 'readQueueNums'),
    writeQueueNums: nums(c.writeQueueNums, 'writeQueueNums'),
    perm,
    topicSysFlag: sys,
  };
}

/** Queue counts of the topics the broker creates for itself. */
export function systemTopicQueues(topic: string, scheduleLevels: number): number | undefined {
  if (topic.startsWith(RETRY_TOPIC_PREFIX) || topic.startsWith(DLQ_TOPIC_PREFIX)) return 1;
  if (topic === SCHEDULE_TOPIC) return scheduleLevels;
  return undefined;
}

/** A mutable topic table with a DataVersion bumped on every change. */
export class TopicTable {
  private readonly topics = new Map<string, TopicConfig>();
  private version: DataVersion;
  readonly autoCreate: boolean;
  readonly defaultQueueNums: number;

  constructor(opts: TopicTableOptions = {}, initial?: TopicsFile, now = 0) {
    this.autoCreate = opts.autoCreate ?? true;
    this.defaultQueueNums = opts.defaultQueueNums ?? DEFAULT_QUEUE_NUMS;
    if (!Number.isInteger(this.defaultQueueNums) || this.defaultQueueNums < 1 || this.defaultQueueNums > MAX_QUEUE_NUMS)
      throw new StatusError(Status.INVALID_ARGUMENT, `defaultQueueNums must be in [1, ${MAX_QUEUE_NUMS}]`);
    this.version = initial?.dataVersion ? { ...initial.dataVersion } : { timestamp: now, counter: 0 };
    for (const t of initial?.topics ?? []) {
      const c = validateTopicConfig(t, true);
      this.topics.set(c.topicName, c);
    }
    // With auto-creation on, the broker registers the auto-create key topic: producers that find no route for
    // a new topic send to the brokers that carry it, as RocketMQ's do; off, it must not be there.
    if (this.autoCreate) {
      const key: TopicConfig = {
        topicName: AUTO_CREATE_TOPIC,
        readQueueNums: this.defaultQueueNums,
        writeQueueNums: this.defaultQueueNums,
        perm: PERM_INHERIT | PERM_READ_WRITE,
        topicSysFlag: 0,
      };
      this.topics.set(AUTO_CREATE_TOPIC, key);
    } else {
      this.topics.delete(AUTO_CREATE_TOPIC);
    }
  }

  get dataVersion(): DataVersion {
    return { ...this.version };
  }

  get size(): number {
    return this.topics.size;
  }

  get(topic: string): TopicConfig | undefined {
    return this.topics.get(topic);
  }

  /** Every topic, sorted by name. */
  list(): TopicConfig[] {
    return [...this.topics.values()].sort((a, b) => (a.topicName < b.topicName ? -1 : a.topicName > b.topicName ? 1 : 0));
  }

  /** Creates or replaces a topic; returns whether anything changed. */
  upsert(cfg: TopicConfig, now: number, allowSystem = false): boolean {
    const c = validateTopicConfig(cfg, allowSystem);
    const old = this.topics.get(c.topicName);
    if (old && sameConfig(old, c)) return false;
    this.topics.set(c.topicName, c);
    this.version = nextDataVersion(this.version, now);
    return true;
  }

  delete(topic: string, now: number): boolean {
    if (!this.topics.delete(topic)) return false;
    this.version = nextDataVersion(this.version, now);
    return true;
  }

  /**
   * The topic a producer sends to: the existing config, or a new one with the default queue counts when
   * auto-creation is on (system topics are created whenever asked). Throws TOPIC_NOT_EXIST otherwise.
   * `created` says whether the table changed.
   */
  ensureForSend(topic: string, now: number, scheduleLevels: number): { config: TopicConfig; created: boolean } {
    const have = this.topics.get(topic);
    if (have) return { config: have, created: false };
    const sysQueues = systemTopicQueues(topic, scheduleLevels);
    if (sysQueues !== undefined) return this.createSystem(topic, sysQueues, now);
    if (!this.autoCreate) throw new StatusError(Status.TOPIC_NOT_EXIST, `topic "${topic}" does not exist on this broker and auto-creation is off`);
    if (isSystemTopic(topic)) throw new StatusError(Status.NO_PERMISSION, `topic "${topic}" is reserved for the system`);
    const config: TopicConfig = {
      topicName: topic,
      readQueueNums: this.defaultQueueNums,
      writeQueueNums: this.defaultQueueNums,
      perm: PERM_READ_WRITE,
      topicSysFlag: 0,
    };
    this.upsert(config, now);
    return { config, created: true };
  }

  /** Creates a system topic (retry, dead letter, schedule) unless it exists. */
  createSystem(topic: string, queues: number, now: number): { config: TopicConfig; created: boolean } {
    const have = this.topics.get(topic);
    if (have) return { config: have, created: false };
    const config: TopicConfig = { topicName: topic, readQueueNums: queues, writeQueueNums: queues, perm: PERM_READ_WRITE, topicSysFlag: 0 };
    this.upsert(config, now, true);
    return { config, created: true };
  }

  /**
   * Replication: takes a master's whole table (its topics and data version) when its version differs from this
   * one's. Returns whether anything changed.
   */
  replaceWith(file: TopicsFile): boolean {
    const v = file.dataVersion;
    if (v.timestamp === this.version.timestamp && v.counter === this.version.counter) return false;
    const next = new Map<string, TopicConfig>();
    for (const t of file.topics) {
      const c = validateTopicConfig(t, true);
      next.set(c.topicName, c);
    }
    this.topics.clear();
    for (const [k, c] of next) this.topics.set(k, c);
    this.version = { ...v };
    return true;
  }

  /**
   * A master taking over (apache/rocketmq#9804: a new master lacked topics of the old): every queue that holds
   * messages has its topic, with at least as many queues. Returns whether the table changed.
   */
  coverQueues(queues: readonly { topic: string; queueId: number }[], now: number): boolean {
    const need = new Map<string, number>();
    for (const q of queues) need.set(q.topic, Math.max(need.get(q.topic) ?? 0, q.queueId + 1));
    let changed = false;
    for (const [topic, n] of need) {
      const have = this.topics.get(topic);
      if (have !== undefined && have.readQueueNums >= n && have.writeQueueNums >= n) continue;
      const nums = Math.min(MAX_QUEUE_NUMS, n);
      const cfg: TopicConfig = have
        ? { ...have, readQueueNums: Math.max(have.readQueueNums, nums), writeQueueNums: Math.max(have.writeQueueNums, nums) }
        : { topicName: topic, readQueueNums: nums, writeQueueNums: nums, perm: PERM_READ_WRITE, topicSysFlag: 0 };
      changed = this.upsert(cfg, now, true) || changed;
    }
    return changed;
  }

  toFile(): TopicsFile {
    return { dataVersion: this.dataVersion, topics: this.list() };
  }
}

function sameConfig(a: TopicConfig, b: TopicConfig): boolean {
  return a.readQueueNums === b.readQueueNums && a.writeQueueNums === b.writeQueueNums && a.perm === b.perm && a.topicSysFlag === b.topicSysFlag;
}

export const TOPICS_FILE = 'config/topics.json';

export function topicsPath(storeDir: string): string {
  return `${storeDir}/${TOPICS_FILE}`;
}

/** Loads topics.json (an empty table when absent); a malformed file throws (ConfigError or StatusError). */
export function loadTopicTable(storage: StorageBackend, storeDir: string, opts: TopicTableOptions, now: number): TopicTable {
  const path = topicsPath(storeDir);
  const file = readJsonFile<TopicsFile>(storage, path);
  if (file === undefined) return new TopicTable(opts, undefined, now);
  const shapeOk =
    file !== null && typeof file === 'object' && Array.isArray(file.topics) &&
    typeof file.dataVersion === 'object' && file.dataVersion !== null &&
    Number.isFinite(file.dataVersion.timestamp) && Number.isFinite(file.dataVersion.counter);
  if (!shapeOk) throw new ConfigError(path, 'expected { "dataVersion": { "timestamp", "counter" }, "topics": [...] }');
  try {
    return new TopicTable(opts, file, now);
  } catch (err) {
    throw new ConfigError(path, `bad topic entry: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export function saveTopicTable(storage: StorageBackend, storeDir: string, table: TopicTable): Promise<void> {
  return writeJsonAtomic(storage, topicsPath(storeDir), table.toFile());
}

