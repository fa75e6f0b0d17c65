import fc from 'fast-check';
import { AclFileError, parseAclFile, validateAclRules } from '../../../../actors/protocol/acl/acl-file.js';
import { Perm } from '../../../../actors/protocol/acl/perm.js';

const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const account = { accessKey: 'producer-ak', secretKey: 'producer-sk' };

describe('the ACL file', () => {
  it('reads accounts with their flags, defaults and per-resource permissions', () => {
    const rules = parseAclFile(
      bytes({
        accounts: [
          { ...account, defaultTopicPerm: 'SUB', topicPerms: ['orders=PUB|SUB', 'audit = DENY'], groupPerms: ['billing=SUB'] },
          { accessKey: 'admin-ak', secretKey: 'admin-sk', admin: true, broker: true },
        ],
      }),
    );
    const a = rules.accounts.get('producer-ak')!;
    expect(a).toMatchObject({ secretKey: 'producer-sk', admin: false, broker: false, defaultTopicPerm: Perm.SUB, defaultGroupPerm: Perm.DENY });
    expect([...a.topicPerms]).toEqual([
      ['orders', Perm.PUB | Perm.SUB],
      ['audit', Perm.DENY],
    ]);
    expect(a.groupPerms.get('billing')).toBe(Perm.SUB);
    expect(rules.accounts.get('admin-ak')).toMatchObject({ admin: true, broker: true, defaultTopicPerm: Perm.DENY });
  });

  it('refuses a bad file naming the first problem', () => {
    const bad: [unknown, RegExp][] = [
      ['{ not json', /not valid JSON/],
      [[], /JSON object/],
      [{}, /"accounts" must be a list/],
      [{ accounts: [{ ...account, secretKey: 'short' }] }, /accounts\[0\]\.secretKey must be a string of at least 6/],
      [{ accounts: [{ ...account, accessKey: 'has space' }] }, /accessKey/],
      [{ accounts: [account, account] }, /listed twice/],
      [{ accounts: [{ ...account, admin: 'yes' }] }, /admin must be true or false/],
      [{ accounts: [{ ...account, topicPerms: ['orders=READ'] }] }, /topicPerms\[0\].*none of DENY/],
      [{ accounts: [{ ...account, topicPerms: ['orders'] }] }, /name=PERM/],
      [{ accounts: [{ ...account, groupPerms: ['g=SUB', 'g=PUB'] }] }, /"g" is listed twice/],
      [{ accounts: [{ ...account, defaultGroupPerm: 3 }] }, /defaultGroupPerm/],
      [{ accounts: [{ ...account, whiteRemoteAddress: '*' }] }, /unknown field "whiteRemoteAddress"/],
    ];
    for (const [doc, msg] of bad) expect(() => parseAclFile(bytes(doc))).toThrow(msg);
    expect(() => parseAclFile(new Uint8Array([0xff, 0xfe]))).toThrow(AclFileError);
  });

  it('never throws anything but AclFileError on arbitrary documents', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (doc) => {
        try {
          validateAclRules(doc);
        } catch (err) {
          expect(err).toBeInstanceOf(AclFileError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
