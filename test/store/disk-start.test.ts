import { existsSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { rootLogger } from '../../actors/runtime/environment.js';
import { Status } from '../../core/status.js';
import { loadConsumerOffsets } from '../../actors/broker/consumer-offsets.js';
import { loadTopicTable, saveTopicTable, TopicTable } from '../../actors/broker/topic-config.js';
import { StorageError } from '../../store/backend.js';
import { diskStorage } from '../../store/backends/disk.js';
import { readCheckpoint } from '../../store/checkpoint.js';
import { ConfigError, readJsonFile, writeJsonAtomic } from '../../store/config-file.js';
import { StoreOpenError, type MessageStore } from '../../store/message-store.js';
import { MessageProperty } from '../../core/message.js';
import { appenderFixture } from '../support/store-appender-process.js';
import { WORKLOAD_QUEUES, WORKLOAD_STORE_DIR, WORKLOAD_TOPICS, bodyOf, messageOf, openWorkloadStore, seqOfUniqKey } from '../support/store-workload.js';

const silent = rootLogger('silent');

const fx = appenderFixture('actormq-disk-start-');
const startAppender = fx.startAppender;

const lockFile = (): string => join(fx.root, WORKLOAD_STORE_DIR, 'lock');

/** Every message of every workload queue, checked intact; returns the sequence numbers in queue order. */
function readAll(store: MessageStore): number[] {
  const seqs: number[] = [];
  for (const topic of WORKLOAD_TOPICS) {
    for (let q = 0; q < WORKLOAD_QUEUES; q++) {
      let offset = store.minOffset(topic, q);
      while (offset < store.maxOffset(topic, q)) {
        const got = store.getMessages({ topic, queueId: q, offset, maxCount: 256 });
        expect(got.status).toBe('FOUND');
        for (const m of got.messages) {
          const seq = seqOfUniqKey(m.properties[MessageProperty.UNIQ_KEY])!;
          if (!Buffer.from(m.body).equals(Buffer.from(bodyOf(seq)))) throw new Error(`seq ${seq} is not intact`);
          seqs.push(seq);
        }
        offset = got.nextOffset;
      }
    }
  }
  return seqs.sort((a, b) => a - b);
}

/** A logger whose records are kept for inspection. */
function capturingLogger(): { logger: pino.Logger; records: Array<{ level: number; msg: string; err?: { message: string } }> } {
  const records: Array<{ level: number; msg: string; err?: { message: string } }> = [];
  const logger = pino({ level: 'warn', base: undefined }, { write: (s: string) => void records.push(JSON.parse(s)) });
  return { logger, records };
}

describe('store start on disk: one broker per store directory', () => {
  it('a second open in the same process is refused with a typed error naming the holder; after close it opens', async () => {
    const storage = diskStorage(fx.root);
    const store = await openWorkloadStore(storage, silent);
    const err = await openWorkloadStore(diskStorage(fx.root), silent).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreOpenError);
    expect(err).toMatchObject({ code: 'EOPEN', cause: expect.objectContaining({ code: 'ELOCKED' }) });
    expect((err as Error).message).toMatch(new RegExp(`ELOCKED.*pid ${process.pid}`));
    // The refused open changed nothing: the holder still owns the lock and keeps writing.
    expect(readFileSync(lockFile(), 'utf8').trim()).toBe(String(process.pid));
    expect((await store.putMessages([messageOf(1, 0)])).status).toBe(Status.OK);
    await store.close();
    expect(existsSync(lockFile())).toBe(false);
    const again = await openWorkloadStore(storage, silent);
    expect(readAll(again)).toEqual([1]);
    await again.close();
  });

  it('another process is refused while this one holds the store, and this one while another holds it', async () => {
    const store = await openWorkloadStore(diskStorage(fx.root), silent);
    // A second broker process on the same directory: refused at start, exit code 2, the holder named.
    const refused = await startAppender(fx.root, 0, 2000).exit;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`open failed: .*ELOCKED.*in use by process ${process.pid}`));
    expect(readFileSync(lockFile(), 'utf8').trim()).toBe(String(process.pid));
    await store.close();

    // Now the other process holds it: this process is refused, naming it; once it closes, the store opens.
    const run = startAppender(fx.root, 0, 1000);
    const pid = await run.ready;
    await run.firstAck;
    const err = await openWorkloadStore(diskStorage(fx.root), silent).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreOpenError);
    expect((err as Error).message).toMatch(new RegExp(`ELOCKED.*in use by process ${pid}`));
    const exit = await run.exit;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(existsSync(lockFile())).toBe(false); // a clean stop releases the lock
    const again = await openWorkloadStore(diskStorage(fx.root), silent);
    const stored = new Set(readAll(again));
    for (const a of run.acked) expect(stored.has(a.seq)).toBe(true);
    await again.close();
  }, 40_000);
});

describe('store start on disk: a corrupt or missing checkpoint', () => {
  // What the code does: an unreadable checkpoint is not fatal. The store logs a warning naming the file and
  // recovers from the start of the commit log (full scan, every record's CRC checked, consume queues and key
  // index rebuilt), then writes a fresh checkpoint.
  const corruptions: Array<[string, (path: string) => void]> = [
    ['one byte flipped', (p) => {
      const b = readFileSync(p);
      b[10] = b[10]! ^ 0xff;
      writeFileSync(p, b);
    }],
    ['truncated', (p) => truncateSync(p, 20)],
    ['empty', (p) => truncateSync(p, 0)],
    ['garbage of the right size', (p) => writeFileSync(p, Buffer.alloc(readFileSync(p).length, 0x5a))],
    ['too long', (p) => writeFileSync(p, Buffer.concat([readFileSync(p), Buffer.from([0])]))],
  ];

  it('recovers every message by a full scan, warns naming the file, and writes a valid checkpoint again', async () => {
    const storage = diskStorage(fx.root);
    const store = await openWorkloadStore(storage, silent);
    const sent: number[] = [];
    for (let b = 0; b < 12; b++) {
      const batch = Array.from({ length: 10 }, (_, i) => b * 10 + i);
      expect((await store.putMessages(batch.map((s) => messageOf(s, 0)))).status).toBe(Status.OK);
      sent.push(...batch);
    }
    expect(store.positions().writeOffset).toBeGreaterThan(64 * 1024); // spans two segments at least
    await store.close();
    const cpPath = join(fx.root, WORKLOAD_STORE_DIR, 'checkpoint');

    for (const [what, corrupt] of corruptions) {
      corrupt(cpPath);
      expect(() => readCheckpoint(storage, `${WORKLOAD_STORE_DIR}/checkpoint`)).toThrow(StorageError);
      const { logger, records } = capturingLogger();
      const again = await openWorkloadStore(storage, logger);
      try {
        expect({ what, seqs: readAll(again) }).toEqual({ what, seqs: sent });
        const warn = records.find((r) => r.msg.startsWith('unreadable checkpoint'));
        expect({ what, warned: warn?.err?.message }).toEqual({ what, warned: expect.stringMatching(/ECORRUPT: store\/checkpoint: corrupt checkpoint/) });
        expect(readCheckpoint(storage, `${WORKLOAD_STORE_DIR}/checkpoint`)).toMatchObject({ clean: false, commitLogFlushed: again.positions().writeOffset });
      } finally {
        await again.close();
      }
    }

    // Checkpoint gone and consume queues and index deleted too: everything is rebuilt from the commit log.
    rmSync(cpPath);
    rmSync(join(fx.root, WORKLOAD_STORE_DIR, 'consumequeue'), { recursive: true });
    rmSync(join(fx.root, WORKLOAD_STORE_DIR, 'index'), { recursive: true });
    const rebuilt = await openWorkloadStore(storage, silent);
    expect(readAll(rebuilt)).toEqual(sent);
    expect(rebuilt.lookupByKey('T', 'k7', 100).length + rebuilt.lookupByKey('U', 'k7', 100).length).toBe(sent.filter((s) => s % 50 === 7).length);
    await rebuilt.close();
  });
});

describe('start on disk: corrupt or truncated configuration files', () => {
  const storeDir = WORKLOAD_STORE_DIR;
  const damages: Array<[string, (full: string) => void, RegExp]> = [
    ['truncated mid-document', (f) => truncateSync(f, Math.floor(readFileSync(f).length / 2)), /malformed JSON/],
    ['empty', (f) => truncateSync(f, 0), /malformed JSON/],
    ['zeros (a torn write)', (f) => writeFileSync(f, Buffer.alloc(64)), /malformed JSON/],
    ['not UTF-8', (f) => writeFileSync(f, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), /not valid UTF-8/],
    ['trailing garbage', (f) => writeFileSync(f, Buffer.concat([readFileSync(f), Buffer.from('}}')])), /malformed JSON/],
  ];

  it('topics.json, consumerOffsets.json and delayOffsets.json: a ConfigError naming the file', async () => {
    const storage = diskStorage(fx.root);
    const files: Array<[string, () => unknown]> = [
      [`${storeDir}/config/topics.json`, () => loadTopicTable(storage, storeDir, {}, 0)],
      [`${storeDir}/config/consumerOffsets.json`, () => loadConsumerOffsets(storage, storeDir)],
      [`${storeDir}/config/delayOffsets.json`, () => readJsonFile(storage, `${storeDir}/config/delayOffsets.json`)],
    ];
    for (const [path, load] of files) {
      for (const [what, damage, why] of damages) {
        // A valid file first (it loads), then damaged.
        if (path.endsWith('topics.json')) await saveTopicTable(storage, storeDir, new TopicTable({}, undefined, 0));
        else await writeJsonAtomic(storage, path, { offsetTable: { 'g@T': { 0: 12, 1: 7 } } });
        expect(load).not.toThrow();
        damage(join(fx.root, path));
        let err: unknown;
        try {
          load();
        } catch (e) {
          err = e;
        }
        expect({ path, what, err }).toEqual({ path, what, err: expect.any(ConfigError) });
        expect(err).toMatchObject({ code: 'ECONFIG', path });
        expect((err as Error).message).toMatch(new RegExp(`^${path.replace(/[.]/g, '\\.')}: `));
        expect((err as Error).message).toMatch(why);
      }
    }
  });

  it('valid JSON of the wrong shape is a ConfigError naming the file too, never silently an empty table', async () => {
    const storage = diskStorage(fx.root);
    const topics = `${storeDir}/config/topics.json`;
    const offsets = `${storeDir}/config/consumerOffsets.json`;
    for (const bad of [{ topics: 5 }, [], null, 'x', { dataVersion: { timestamp: 1, counter: 1 }, topics: [{ topicName: '../x' }] }]) {
      await writeJsonAtomic(storage, topics, bad);
      expect(() => loadTopicTable(storage, storeDir, {}, 0)).toThrow(ConfigError);
      expect(() => loadTopicTable(storage, storeDir, {}, 0)).toThrow(/topics\.json/);
    }
    for (const bad of [[], null, { offsetTable: 3 }, { offsetTable: { 'g@T': { 0: -1 } } }, { offsetTable: { noSeparator: {} } }]) {
      await writeJsonAtomic(storage, offsets, bad);
      expect(() => loadConsumerOffsets(storage, storeDir)).toThrow(ConfigError);
    }
  });
});
