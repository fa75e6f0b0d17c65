/**
 * The import rule of ARCHITECTURE.md ("Layers"), checked by dependency-cruiser with the project's
 * .dependency-cruiser.cjs: a backwards or sideways import fails `npm test`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = path.join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

function cruise(cwd: string, roots: string[]): Violation[] {
  const r = spawnSync(process.execPath, [DEPCRUISE, '--config', CONFIG, '--output-type', 'json', ...roots], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  if (!r.stdout) throw new Error(`dependency-cruiser printed nothing (exit ${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

const describeViolations = (vs: Violation[]): string[] => vs.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);

describe('import rule', () => {
  it('holds for the whole project: every import runs down the layers, none sideways between roles', () => {
    const roots = ['index.ts', 'core', 'actors', 'store', 'transports', 'observe', 'scenarios', 'bin', 'bench', 'test'];
    expect(describeViolations(cruise(ROOT, roots))).toEqual([]);
  });

  it('catches a backwards import, a sideways one between roles, and one out of the ground layer', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'import-rules-'));
    try {
      const files: Record<string, string> = {
        'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }),
        'core/leaf.ts': "import { x } from '../store/log.js';\nexport const y = x;\n",
        'store/log.ts': "import { a } from '../actors/runtime/env.js';\nexport const x = a;\n",
        'actors/runtime/env.ts': 'export const a = 1;\n',
        'actors/broker/b.ts': "import { c } from '../consumer/c.js';\nexport const b = c;\n",
        'actors/consumer/c.ts': 'export const c = 2;\n',
      };
      for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
      }
      expect(describeViolations(cruise(dir, ['core', 'store', 'actors'])).sort()).toEqual([
        'core-is-ground: core/leaf.ts -> store/log.ts',
        'no-sideways-roles: actors/broker/b.ts -> actors/consumer/c.ts',
        'store-only-core: store/log.ts -> actors/runtime/env.ts',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
