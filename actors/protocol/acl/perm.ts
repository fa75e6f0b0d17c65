/**
 * Permissions of the plain ACL, as RocketMQ's `Permission`: a topic or group grants `PUB`, `SUB`, both
 * (`PUB|SUB`) or nothing (`DENY`). A bit set, so a check is one mask; DENY is its own bit and wins over any other.
 */
export const Perm = {
  PUB: 1,
  SUB: 2,
  DENY: 4,
} as const;
export type PermBits = number;

/** The permission an account may be refused for: what a request needs on one resource. */
export type NeededPerm = typeof Perm.PUB | typeof Perm.SUB;

/** A typed error for a permission text that is none of DENY, PUB, SUB, PUB|SUB (SUB|PUB). */
export class PermParseError extends Error {
  constructor(readonly text: string) {
    super(`permission "${text}" is none of DENY, PUB, SUB, PUB|SUB`);
    this.name = 'PermParseError';
  }
}

/** Parses `DENY`, `PUB`, `SUB`, `PUB|SUB` (either order, spaces allowed around `|`). */
export function parsePerm(text: string): PermBits {
  const parts = text.split('|').map((p) => p.trim());
  let bits = 0;
  for (const p of parts) {
    const bit = p === 'PUB' ? Perm.PUB : p === 'SUB' ? Perm.SUB : p === 'DENY' ? Perm.DENY : 0;
    if (bit === 0 || (bits & bit) !== 0) throw new PermParseError(text);
    bits |= bit;
  }
  if ((bits & Perm.DENY) !== 0 && bits !== Perm.DENY) throw new PermParseError(text);
  return bits;
}

/** The text of a permission (`DENY`, `PUB`, `SUB`, `PUB|SUB`). */
export function permName(bits: PermBits): string {
  if ((bits & Perm.DENY) !== 0 || (bits & (Perm.PUB | Perm.SUB)) === 0) return 'DENY';
  return [(bits & Perm.PUB) !== 0 ? 'PUB' : '', (bits & Perm.SUB) !== 0 ? 'SUB' : ''].filter((s) => s !== '').join('|');
}

/** Whether `granted` allows `needed`: never with DENY, else when every needed bit is granted. */
export function allows(granted: PermBits, needed: PermBits): boolean {
  if ((granted & Perm.DENY) !== 0) return false;
  return (granted & needed) === needed;
}
