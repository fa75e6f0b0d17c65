import fc from 'fast-check';
import { allows, parsePerm, Perm, permName } from '../../../../actors/protocol/acl/perm.js';

describe('ACL permissions', () => {
  it('parse every text RocketMQ uses, either order of PUB|SUB, and name them back', () => {
    expect(parsePerm('PUB')).toBe(Perm.PUB);
    expect(parsePerm('SUB')).toBe(Perm.SUB);
    expect(parsePerm('PUB|SUB')).toBe(Perm.PUB | Perm.SUB);
    expect(parsePerm('SUB | PUB')).toBe(Perm.PUB | Perm.SUB);
    expect(parsePerm('DENY')).toBe(Perm.DENY);
    for (const t of ['PUB', 'SUB', 'PUB|SUB', 'DENY']) expect(permName(parsePerm(t))).toBe(t);
  });

  it('refuse anything else', () => {
    for (const t of ['', 'pub', 'ANY', 'PUB|PUB', 'DENY|PUB', 'PUB|', 'READ']) expect(() => parsePerm(t)).toThrow(/none of DENY, PUB, SUB/);
  });

  it('grant a need only when every bit is held, and never under DENY', () => {
    const bits = fc.integer({ min: 0, max: 7 });
    fc.assert(
      fc.property(bits, fc.constantFrom(Perm.PUB, Perm.SUB), (granted, needed) => {
        const expected = (granted & Perm.DENY) === 0 && (granted & needed) === needed;
        expect(allows(granted, needed)).toBe(expected);
      }),
    );
    expect(allows(Perm.PUB, Perm.SUB)).toBe(false);
    expect(allows(Perm.PUB | Perm.SUB | Perm.DENY, Perm.PUB)).toBe(false);
  });
});
