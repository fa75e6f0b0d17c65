/** How the console writes numbers, sizes, rates and times. */

export function int(n: number | undefined): string {
  return n === undefined ? '–' : Math.round(n).toLocaleString('en-US');
}

export function rate(n: number | undefined): string {
  if (n === undefined) return '–';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** A clock time: wall-clock times (ms since the epoch) as HH:MM:SS.mmm, small (simulated) ones as seconds. */
export function clock(ms: number): string {
  if (ms > 1e11) return new Date(ms).toISOString().slice(11, 23);
  return `${(ms / 1000).toFixed(3)} s`;
}

/** Seconds from a start, signed. */
export function offset(ms: number, from: number): string {
  return `+${((ms - from) / 1000).toFixed(3)} s`;
}
