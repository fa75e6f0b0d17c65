import pino from 'pino';
import { Writable } from 'node:stream';
import { SimClock } from '../../../core/clock.js';
import { SeededRandom } from '../../../core/random.js';
import { memoryStorage } from '../../../store/backends/memory.js';
import { AclGuard } from '../../../actors/runtime/acl-guard.js';
import { AclFileError } from '../../../actors/protocol/acl/acl-file.js';

const PATH = '/acl.json';
const file = (topicPerms: string[]) => JSON.stringify({ accounts: [{ accessKey: 'producer-ak', secretKey: 'producer-sk', topicPerms }] });

function setup() {
  const clock = new SimClock();
  const storage = memoryStorage({ clock, random: new SeededRandom(1) });
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(JSON.parse(String(chunk))), cb()) }));
  const write = (text: string): void => {
    const f = storage.open(PATH);
    f.truncate(0);
    f.write(0, new TextEncoder().encode(text));
    f.close();
  };
  return { clock, storage, logger, lines, write };
}
const topicPerm = (g: AclGuard, topic: string) => g.current().accounts.get('producer-ak')?.topicPerms.get(topic);

describe('the ACL guard', () => {
  it('will not start on a missing or broken file', () => {
    const { clock, storage, logger, write } = setup();
    expect(() => new AclGuard({ storage, path: PATH, clock, logger })).toThrow(/does not exist/);
    write('[]');
    expect(() => new AclGuard({ storage, path: PATH, clock, logger })).toThrow(AclFileError);
  });

  it('swaps rules only for a changed file that validates, on its interval, and logs a bad file once', async () => {
    const { clock, storage, logger, lines, write } = setup();
    write(file(['orders=PUB']));
    const guard = new AclGuard({ storage, path: PATH, clock, logger, reloadMs: 2000 });
    expect(guard.reload()).toBe('unchanged');

    write(file(['orders=SUB']));
    await clock.advance(1999);
    expect(topicPerm(guard, 'orders')).toBe(1);
    await clock.advance(1);
    expect(topicPerm(guard, 'orders')).toBe(2);

    write(file(['orders=NOPE']));
    await clock.advance(6000);
    expect(topicPerm(guard, 'orders')).toBe(2);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/previous rules stay in force/);

    storage.remove(PATH);
    expect(guard.reload()).toBe('kept');
    expect(topicPerm(guard, 'orders')).toBe(2);

    write(file(['orders=PUB|SUB']));
    expect(guard.reload()).toBe('reloaded');
    expect(topicPerm(guard, 'orders')).toBe(3);
    guard.stop();
    write(file(['orders=DENY']));
    await clock.advance(10_000);
    expect(topicPerm(guard, 'orders')).toBe(3);
  });
});
