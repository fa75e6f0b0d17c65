/**
 * XState state values as the console shows them: the paths of the active state nodes, and one line of text.
 * Pure and free of Node and the DOM: the browser imports it too.
 */

/**
 * The active state nodes' paths (keys from the root) of a state value: `'serving'` gives `[['serving']]`;
 * `{ a: 'x', b: { c: 'd' } }` gives `[['a'], ['a', 'x'], ['b'], ['b', 'c'], ['b', 'c', 'd']]` (every
 * compound or parallel node on the way is active too).
 */
export function activePaths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value === 'string') return [[...prefix, value]];
  if (value === null || typeof value !== 'object') return [];
  const out: string[][] = [];
  for (const [key, sub] of Object.entries(value as Record<string, unknown>)) {
    const path = [...prefix, key];
    out.push(path);
    out.push(...activePaths(sub, path));
  }
  return out;
}

/** The innermost active states as `a.x, b.c.d` (a status alone for actors that are not state machines). */
export function formatState(value: unknown, status?: string): string {
  if (value === undefined || value === null) return status ?? '';
  const leaves = activePaths(value).filter((p, _, all) => !all.some((q) => q.length > p.length && p.every((k, i) => q[i] === k)));
  return leaves.map((p) => p.join('.')).join(', ');
}
