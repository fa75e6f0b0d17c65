import fc from 'fast-check';
import { sseParser } from '../../observe/sse-source.js';

describe('the console stream reader', () => {
  it('reads the same events however the stream is cut into chunks', () => {
    const events = [
      ['hello', '{"live":true}'],
      ['snapshot', '[{"kind":"actor"}]'],
      ['records', '[1,2,3]'],
    ] as const;
    const text = `: keep-alive\n\n${events.map(([e, d]) => `event: ${e}\ndata: ${d}\n\n`).join(': keep-alive\n\n')}`;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 12 }), (cuts) => {
        const got: [string, string][] = [];
        const feed = sseParser((e, d) => got.push([e, d]));
        const at = [0, ...[...new Set(cuts)].sort((a, b) => a - b), text.length];
        for (let i = 1; i < at.length; i++) feed(text.slice(at[i - 1], at[i]));
        expect(got).toEqual(events.map(([e, d]) => [e, d]));
      }),
    );
  });
});
