import { SimClock } from '../../../../core/clock.js';
import { SeededRandom } from '../../../../core/random.js';
import { memoryStorage } from '../../../../store/backends/memory.js';
import { ConfigError, ConfigShapeError, writeJsonAtomic } from '../../../../store/config-file.js';
import { DELAY_OFFSETS_FILE, loadDelayOffsets } from '../../../../actors/broker/schedule/delay-scheduler.js';
import { loadTimerProgress, TIMER_OFFSETS_FILE } from '../../../../actors/broker/schedule/timer-scheduler.js';

/** The schedulers' progress files: a file of the wrong shape stops the start naming the file and the field, never resets to 0. */

const storage = () => memoryStorage({ clock: new SimClock(), random: new SeededRandom(1) });

async function errorOf(load: () => unknown): Promise<unknown> {
  try {
    load();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('delayOffsets.json', () => {
  const path = `/data/${DELAY_OFFSETS_FILE}`;

  it('loads what the scheduler writes; absent is undefined', async () => {
    const fs = storage();
    expect(loadDelayOffsets(fs, path)).toBeUndefined();
    await writeJsonAtomic(fs, path, { offsetTable: { '1': 0, '3': 42 } });
    expect(loadDelayOffsets(fs, path)).toEqual({ offsetTable: { '1': 0, '3': 42 } });
  });

  const bad: Array<[unknown, string]> = [
    [[], ''],
    [null, ''],
    [{}, 'offsetTable'],
    [{ offsetTable: 3 }, 'offsetTable'],
    [{ offsetTable: { '1': -1 } }, 'offsetTable.1'],
    [{ offsetTable: { '2': '5' } }, 'offsetTable.2'],
    [{ offsetTable: { '2': 1.5 } }, 'offsetTable.2'],
    [{ offsetTable: { level1: 5 } }, 'offsetTable.level1'],
  ];
  it.each(bad)('%j: a ConfigShapeError naming the file and the field %j', async (content, field) => {
    const fs = storage();
    await writeJsonAtomic(fs, path, content);
    const err = await errorOf(() => loadDelayOffsets(fs, path));
    expect(err).toBeInstanceOf(ConfigShapeError);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ code: 'ECONFIG', path, field });
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toContain(field === '' ? '(the document)' : `field ${field}:`);
  });
});

describe('timerOffsets.json', () => {
  const path = `/data/${TIMER_OFFSETS_FILE}`;

  it('loads what the scheduler writes', async () => {
    const fs = storage();
    await writeJsonAtomic(fs, path, { lowWater: 7, done: [[9, 12], [20, 21]] });
    expect(loadTimerProgress(fs, path)).toEqual({ lowWater: 7, done: [[9, 12], [20, 21]] });
  });

  const bad: Array<[unknown, string]> = [
    ['x', ''],
    [{ done: [] }, 'lowWater'],
    [{ lowWater: -3, done: [] }, 'lowWater'],
    [{ lowWater: 0 }, 'done'],
    [{ lowWater: 0, done: {} }, 'done'],
    [{ lowWater: 0, done: [[5, 3]] }, 'done[0]'],
    [{ lowWater: 0, done: [[1, 2], [1, 2, 3]] }, 'done[1]'],
    [{ lowWater: 0, done: [[1, 'b']] }, 'done[0][1]'],
    [{ lowWater: 0, done: [[0, 1e9]] }, 'done[0]'],
  ];
  it.each(bad)('%j: a ConfigShapeError naming the file and the field %j', async (content, field) => {
    const fs = storage();
    await writeJsonAtomic(fs, path, content);
    const err = await errorOf(() => loadTimerProgress(fs, path));
    expect(err).toBeInstanceOf(ConfigShapeError);
    expect(err).toMatchObject({ code: 'ECONFIG', path, field });
    expect((err as Error).message).toMatch(new RegExp(`^${path.replace(/[.]/g, '\\.')}: `));
  });

  it('malformed JSON is still a ConfigError naming the file', async () => {
    const fs = storage();
    const f = fs.open(path);
    f.write(0, new TextEncoder().encode('{"lowWater": 3,'));
    await f.flush();
    f.close();
    const err = await errorOf(() => loadTimerProgress(fs, path));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/malformed JSON/);
  });
});
