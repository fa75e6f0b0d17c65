import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryTransport, startSystem, type MqSystem } from '../../../index.js';
import { resolveBrokerOptions } from '../../../actors/broker/broker-options.js';
import { rootLogger } from '../../../actors/runtime/environment.js';
import { diskStorage } from '../../../store/backends/disk.js';
import { createTopic } from '../../e2e/support.js';

const SEGMENT = 1024 * 1024;

describe('broker warmAheadBytes', () => {
  let root: string;
  let system: MqSystem | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'actormq-warm-broker-'));
  });
  afterEach(async () => {
    await system?.stop();
    system = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses a negative or fractional value', () => {
    const base = { name: 'b', namesrv: [], storeDir: '/d' };
    expect(resolveBrokerOptions({ ...base, warmAheadBytes: 0 }).warmAheadBytes).toBe(0);
    expect(() => resolveBrokerOptions({ ...base, warmAheadBytes: -1 })).toThrow(/warmAheadBytes/);
    expect(() => resolveBrokerOptions({ ...base, warmAheadBytes: 1.5 })).toThrow(expect.objectContaining({ code: 'ECONFIG' }));
  });

  it.each([
    ['warms by default: the active segment is segment-long while the broker runs', undefined, true],
    ['with 0 the segment holds only the data', 0, false],
  ])('%s', async (_name, warmAheadBytes, long) => {
    system = await startSystem({ transport: memoryTransport(), storage: () => diskStorage(root), logger: rootLogger('warn') });
    await system.spawnNameServer({ id: 'ns' });
    const broker = await system.spawnBroker({ name: 'b', namesrv: ['ns'], storeDir: 'store', segmentSize: SEGMENT, ...(warmAheadBytes !== undefined ? { warmAheadBytes } : {}) });
    await broker.whenServing();
    await createTopic(system, [broker.address], 'T');
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns'] });
    await producer.send({ topic: 'T', body: Buffer.from('hello') });
    const dir = join(root, 'store', 'commitlog');
    const size = (): number => statSync(join(dir, readdirSync(dir).sort().pop()!)).size;
    expect(size() === SEGMENT).toBe(long);
    await system.stop();
    system = undefined;
    expect(size()).toBeLessThan(SEGMENT); // a clean stop leaves only the data
    expect(size()).toBeGreaterThan(0);
  });
});
