/**
 * Every ```ts block of README.md is a whole program that type-checks and runs as written: each is written to a
 * temporary folder whose node_modules/actormq is this repository (so `from 'actormq'` is the built package,
 * dist/index.js and its .d.ts), compiled there with the project's TypeScript, and run with node (bounded in
 * time) from that folder, where it must exit 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { killOnExit } from '../../bench/kill-on-exit.js';

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '..', '..');
const RUN_TIMEOUT_MS = 30_000;

interface ReadmeBlock {
  /** README line of the block's first code line (1-based). */
  line: number;
  /** The nearest heading above it. */
  heading: string;
  code: string;
}

/** The ```ts blocks of a markdown text, with where they start. */
function tsBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^#{1,6} /.test(l)) heading = l.replace(/^#+ /, '');
    if (!/^```(ts|typescript)\s*$/.test(l)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    blocks.push({ line: start + 1, heading, code: lines.slice(start, end).join('\n') + '\n' });
    i = end;
  }
  return blocks;
}

const blocks = tsBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
let dir: string;
/** File name -> its type errors, as README lines. */
const typeErrors = new Map<string, string[]>();

const fileOf = (b: ReadmeBlock): string => `readme-line-${b.line}.mts`;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/index.js does not exist: run "npm run build" first');
  dir = mkdtempSync(join(tmpdir(), 'mq-readme-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'actormq'), 'dir');
  for (const b of blocks) writeFileSync(join(dir, fileOf(b)), b.code);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022'],
        strict: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      include: ['*.mts'],
    }),
  );
  // one compiler run for all blocks; it emits .mjs files even when some do not type-check
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.', '--pretty', 'false'], { cwd: dir, encoding: 'utf8', timeout: 90_000 });
  if (tsc.error) throw tsc.error;
  const unplaced: string[] = [];
  for (const l of tsc.stdout.split('\n').filter((x) => x.trim() !== '')) {
    const m = /^(readme-line-(\d+)\.mts)\((\d+),(\d+)\): (.*)$/.exec(l);
    if (!m) {
      if (!l.startsWith(' ')) unplaced.push(l); // continuation lines of a message start with spaces
      continue;
    }
    const at = Number(m[2]) + Number(m[3]) - 1;
    typeErrors.set(m[1]!, [...(typeErrors.get(m[1]!) ?? []), `README.md:${at}:${m[4]} ${m[5]}`]);
  }
  // errors that belong to no block (the set-up itself) fail every block
  if (unplaced.length > 0 || (tsc.status !== 0 && typeErrors.size === 0)) {
    throw new Error(`tsc failed (exit ${tsc.status}): ${[...unplaced, tsc.stderr].join('\n')}`);
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  timedOut: boolean;
}

function runBlock(file: string): Promise<Run> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [file], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child);
    let output = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, output, timedOut });
    });
  });
}

describe('README.md', () => {
  it('has TypeScript blocks', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks.map((b) => [b.line, b.heading, b] as const))('the block at line %i (%s) type-checks and runs to exit 0', async (_line, _heading, b) => {
    expect(typeErrors.get(fileOf(b)) ?? []).toEqual([]);
    const r = await runBlock(fileOf(b).replace(/\.mts$/, '.mjs'));
    if (r.code !== 0) {
      const ended = r.timedOut ? `was still running after ${RUN_TIMEOUT_MS} ms (killed)` : `exited with code ${r.code}${r.signal ? `, signal ${r.signal}` : ''}`;
      throw new Error(`the README block at line ${b.line} ${ended}; its output:\n${r.output.slice(-3000)}`);
    }
  });
});
