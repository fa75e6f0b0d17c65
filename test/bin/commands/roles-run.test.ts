import { readyLines, registrationChangeLines } from '../../../bin/commands/roles-run.js';

describe('mq broker registration lines', () => {
  it('ready only once a name server has the broker, naming those it waits for', () => {
    expect(readyLines('b1', { registered: [], missing: ['ns-1', 'ns-2'] })).toEqual([]);
    expect(readyLines('b1', { registered: ['ns-1'], missing: ['ns-2'] })).toEqual(['broker b1 ready (registered with ns-1; waiting for ns-2)']);
    expect(readyLines('b1', { registered: ['ns-1', 'ns-2'], missing: [] })).toEqual(['broker b1 ready']);
    expect(readyLines('b1', { registered: [], missing: [] })).toEqual(['broker b1 ready']);
  });

  it('a line per name server that came or went', () => {
    const before = { registered: ['ns-1'], missing: ['ns-2', 'ns-3'] };
    expect(registrationChangeLines('b1', before, { registered: ['ns-2', 'ns-3'], missing: ['ns-1'] })).toEqual([
      'broker b1 registered with ns-2',
      'broker b1 registered with ns-3',
      'broker b1 lost name server ns-1 (registering again)',
    ]);
    expect(registrationChangeLines('b1', before, before)).toEqual([]);
  });
});
