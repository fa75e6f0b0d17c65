import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryTransport, startSystem, type MqSystem } from '../../../index.js';
import { resolveBrokerOptions } from '../../../actors/broker/broker-options.js';
import { rootLogger } from '../../../actors/runtime/environment.js';
import { diskStorage } from '../../../store/backends/disk.js';
import { createTopic } from '../../e2e/support.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('broker maxOpenFiles and fileIdleCloseMs', () => {
  let root: string;
  let system: MqSystem | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'actormq-fds-broker-'));
  });
  afterEach(async () => {
    await system?.stop();
    system = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  it('are checked', () => {
    const base = { name: 'b', namesrv: [], storeDir: '/d' };
    expect(resolveBrokerOptions({ ...base, maxOpenFiles: 64, fileIdleCloseMs: 0 })).toMatchObject({ maxOpenFiles: 64, fileIdleCloseMs: 0 });
    expect(() => resolveBrokerOptions({ ...base, maxOpenFiles: 0 })).toThrow(/maxOpenFiles/);
    expect(() => resolveBrokerOptions({ ...base, maxOpenFiles: 2.5 })).toThrow(expect.objectContaining({ code: 'ECONFIG' }));
    expect(() => resolveBrokerOptions({ ...base, fileIdleCloseMs: -1 })).toThrow(/fileIdleCloseMs/);
  });

  it('bound the files a broker holds open while it serves more queues than that', async () => {
    const base = openFds();
    system = await startSystem({ transport: memoryTransport(), storage: () => diskStorage(root), logger: rootLogger('warn') });
    await system.spawnNameServer({ id: 'ns' });
    const broker = await system.spawnBroker({ name: 'b', namesrv: ['ns'], storeDir: 'store', flush: 'sync', maxOpenFiles: 8 });
    await broker.whenServing();
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns'] });
    for (let t = 0; t < 16; t++) {
      await createTopic(system, [broker.address], `T${t}`, 4);
      for (let i = 0; i < 4; i++) await producer.send({ topic: `T${t}`, body: Buffer.from(`m${t}-${i}`) });
    }
    // 64 consume queues written, 8 files open at most, and a few for the broker's config files and directories
    expect(readdirSync(join(root, 'store', 'consumequeue')).length).toBe(16);
    expect(openFds() - base).toBeLessThanOrEqual(8 + 8 + 4);
  }, 60_000);
});
