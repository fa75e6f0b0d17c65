/* Store append throughput (sync and async flush) next to raw file writes + fsync of the same bytes. */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealClock } from '../actors/runtime/clock.js';
import { rootLogger } from '../actors/runtime/environment.js';
import { CryptoRandom } from '../actors/runtime/random.js';
import { diskStorage } from '../store/backends/disk.js';
import { openMessageStore, type PutMessage } from '../store/message-store.js';
import { atLeast, rate, type Bench } from './harness.js';

const MSG = 1024;
const BATCH = 32;

const bench: Bench = async (ctx) => {
  const ms = Number(ctx.args.find((a) => a.startsWith('--ms='))?.slice(5) ?? 2000);
  const root = mkdtempSync(join(tmpdir(), 'store-bench-'));
  try {
    const body = new Uint8Array(MSG).fill(7);
    const batch: PutMessage[] = Array.from({ length: BATCH }, (_, i) => ({ topic: 'bench', queueId: i % 4, body, bornTimestamp: 0, bornHost: 'bench' }));
    const figures: Record<string, number> = {};
    let recordBytes = 0;

    for (const flush of ['sync', 'async'] as const) {
      ctx.progress(`store, ${flush} flush`);
      const store = await openMessageStore({
        dir: `${root}/${flush}`,
        storage: diskStorage(),
        clock: new RealClock(),
        random: new CryptoRandom(),
        logger: rootLogger('warn'),
        storeHost: '127.0.0.1:10911',
        flush,
        segmentSize: 256 * 1024 * 1024,
      });
      const r = await rate(ms, async () => {
        const res = await store.putMessages(batch);
        if (res.status !== 0) throw new Error(`put failed: ${res.status} ${res.message}`);
        recordBytes = res.results.reduce((s, x) => s + x.size, 0);
        return BATCH;
      });
      await store.close();
      figures[`${flush}MsgsPerSec`] = r.perSecond;
      figures[`${flush}MBPerSec`] = (r.perSecond * (recordBytes / BATCH)) / 1e6;
    }

    ctx.progress('raw write + fsync');
    const fd = openSync(`${root}/raw`, 'w');
    const buf = new Uint8Array(recordBytes);
    const raw = await rate(ms, () => {
      writeSync(fd, buf);
      fsyncSync(fd);
      return BATCH;
    });
    closeSync(fd);
    figures.rawMsgsPerSec = raw.perSecond;
    figures.rawMBPerSec = (raw.perSecond * (recordBytes / BATCH)) / 1e6;
    const ratio = figures.syncMBPerSec! / figures.rawMBPerSec;
    return {
      figures: { ...figures, messageBytes: MSG, batch: BATCH, recordBytesPerBatch: recordBytes },
      goals: [atLeast('sync append MB/s / raw write+fsync MB/s', ratio, 0.5, 'ratio')],
      table: [
        { what: 'store sync flush', 'msgs/s': Math.round(figures.syncMsgsPerSec!), 'MB/s': figures.syncMBPerSec! },
        { what: 'store async flush', 'msgs/s': Math.round(figures.asyncMsgsPerSec!), 'MB/s': figures.asyncMBPerSec! },
        { what: 'raw write+fsync', 'msgs/s': Math.round(figures.rawMsgsPerSec), 'MB/s': figures.rawMBPerSec },
      ],
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
};

export default bench;
