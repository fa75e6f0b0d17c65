#!/usr/bin/env node
/* The benchmark runner: `npm run bench -- NAME [--json] [options]`. */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Bench, BenchResult } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Modules of this folder that are not benchmarks. */
const HELPERS = ['run.js', 'harness.js', 'nats-server.js', 'kill-on-exit.js', 'child.js'];

function available(): string[] {
  return readdirSync(here)
    .filter((f) => f.endsWith('.js') && !HELPERS.includes(f))
    .map((f) => f.slice(0, -3))
    .sort();
}

function printTable(rows: Array<Record<string, string | number>>): void {
  if (rows.length === 0) return;
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 3 }) : String(v ?? ''));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(width[i]!)).join('  ');
  console.log(line(cols));
  console.log(line(width.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  const name = rest.shift();
  if (!name || name.startsWith('-')) {
    console.error(`usage: npm run bench -- NAME [--json]\nbenchmarks: ${available().join(', ')}`);
    return 2;
  }
  if (!available().includes(name)) {
    console.error(`unknown benchmark "${name}"; benchmarks: ${available().join(', ')}`);
    return 2;
  }
  const mod = (await import(pathToFileURL(`${here}/${name}.js`).href)) as { default: Bench };
  const progress = (m: string): void => {
    process.stderr.write(`[${name}] ${m}\n`);
  };
  const result: BenchResult = await mod.default({ json, args: rest, progress });
  if (json) {
    process.stdout.write(JSON.stringify({ bench: name, figures: result.figures, goals: result.goals }) + '\n');
  } else {
    if (result.table) printTable(result.table);
    console.log('');
    printTable(result.goals.map((g) => ({ goal: g.name, value: g.value, target: g.target, unit: g.unit, met: g.met ? 'yes' : 'NO' })));
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
