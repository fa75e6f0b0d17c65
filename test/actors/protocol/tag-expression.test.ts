import fc from 'fast-check';
import { matchesHash, matchesTag, parseTagExpression } from '../../../actors/protocol/tag-expression.js';
import { Status, StatusError } from '../../../core/status.js';
import { tagHash } from '../../../core/tags.js';

const tagArb = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,12}$/);

describe('parseTagExpression', () => {
  it('treats *, empty and blank as all', () => {
    for (const e of ['*', '', '   ', ' * ', undefined, null]) {
      const f = parseTagExpression(e);
      expect(f.all).toBe(true);
      expect(matchesTag(f, undefined)).toBe(true);
      expect(matchesTag(f, 'x')).toBe(true);
      expect(matchesHash(f, 12345)).toBe(true);
    }
  });

  it('parses alternatives with any whitespace around them', () => {
    const f = parseTagExpression('  TagA||TagB ||\tTagC  ');
    expect(f.all).toBe(false);
    expect([...f.tags]).toEqual(['TagA', 'TagB', 'TagC']);
    expect(f.hashes).toEqual(new Set(['TagA', 'TagB', 'TagC'].map(tagHash)));
    expect(f.expression).toBe('TagA || TagB || TagC');
    expect(matchesTag(f, 'TagB')).toBe(true);
    expect(matchesTag(f, 'TagD')).toBe(false);
    expect(matchesTag(f, undefined)).toBe(false);
    expect(matchesHash(f, tagHash('TagC'))).toBe(true);
    expect(matchesHash(f, tagHash('TagD'))).toBe(false);
  });

  it('rejects malformed expressions with INVALID_ARGUMENT', () => {
    for (const bad of ['A ||', '||', '|| A', 'A || || B', 'A | B', 'A B', 'A || *', '*A', 'A\u0001', 'x'.repeat(300)]) {
      let err: unknown;
      try {
        parseTagExpression(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StatusError);
      expect((err as StatusError).status).toBe(Status.INVALID_ARGUMENT);
    }
  });

  it('matches exactly the listed tags, for any list and spacing', () => {
    fc.assert(
      fc.property(fc.uniqueArray(tagArb, { minLength: 1, maxLength: 6 }), fc.array(fc.constantFrom('', ' ', '  ', '\t'), { minLength: 12, maxLength: 12 }), tagArb, (tags, spaces, probe) => {
        const expr = tags.map((t, i) => `${spaces[i]}${t}${spaces[i + 6]}`).join('||');
        const f = parseTagExpression(expr);
        expect(f.tags).toEqual(new Set(tags));
        expect(matchesTag(f, probe)).toBe(tags.includes(probe));
        for (const t of tags) expect(matchesHash(f, tagHash(t))).toBe(true);
        // parsing the normalized expression gives the same filter
        expect(parseTagExpression(f.expression).tags).toEqual(f.tags);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but StatusError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          const f = parseTagExpression(s);
          for (const t of f.tags) expect(matchesTag(f, t)).toBe(true);
        } catch (err) {
          if (!(err instanceof StatusError)) throw err;
        }
      }),
      { numRuns: 500 },
    );
  });
});
