import { SimClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { faultyStorage } from '../../store/backends/faulty.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { ConfigError, readJsonFile, writeJsonAtomic } from '../../store/config-file.js';

const mem = (seed = 1) => memoryStorage({ clock: new SimClock(), random: new SeededRandom(seed) });

describe('config files', () => {
  it('writes and reads JSON; absent is undefined', async () => {
    const fs = mem();
    expect(readJsonFile(fs, 'config/topics.json')).toBeUndefined();
    await writeJsonAtomic(fs, 'config/topics.json', { orders: { queues: 4 } });
    expect(readJsonFile<{ orders: { queues: number } }>(fs, 'config/topics.json')).toEqual({ orders: { queues: 4 } });
  });

  it('a crash at any point leaves the old or the new content, never a mix', async () => {
    for (let seed = 0; seed < 30; seed++) {
      const fs = mem(seed);
      const faulty = faultyStorage(fs);
      await writeJsonAtomic(fs, 'c.json', { v: 'old'.repeat(50) });
      // The new version's flush fails: the rename never happens.
      faulty.failFlushes('EIO');
      await expect(writeJsonAtomic(faulty, 'c.json', { v: 'new'.repeat(60) })).rejects.toMatchObject({ code: 'EIO' });
      fs.crash({ tear: true });
      expect(readJsonFile(fs, 'c.json')).toEqual({ v: 'old'.repeat(50) });
      await writeJsonAtomic(fs, 'c.json', { v: 'new' });
      fs.crash({ tear: true });
      expect(readJsonFile(fs, 'c.json')).toEqual({ v: 'new' });
    }
  });

  it('malformed content is a ConfigError', async () => {
    const fs = mem();
    fs.open('bad.json').write(0, new TextEncoder().encode('{"a": '));
    expect(() => readJsonFile(fs, 'bad.json')).toThrow(ConfigError);
    fs.open('bin.json').write(0, new Uint8Array([0xff, 0xfe]));
    expect(() => readJsonFile(fs, 'bin.json')).toThrow(/UTF-8/);
    await expect(writeJsonAtomic(fs, 'u.json', undefined)).rejects.toThrow(ConfigError);
  });
});
