/**
 * A script that embeds a system lives as long as the system runs, and no longer: the real clock's timers do not keep
 * Node alive, so without the system's own handle a script awaiting a delayed message would simply end.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const ENTRY = pathToFileURL(path.resolve(__dirname, '../../dist/index.js')).href;

function runScript(body: string): { status: number | null; stdout: string; stderr: string } {
  const script = `import { startSystem, memoryTransport } from ${JSON.stringify(ENTRY)};\n${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('process lifetime of an embedded system', () => {
  it('keeps the process alive while a script awaits the system clock, and lets it end after stop', () => {
    const r = runScript(`
      const system = await startSystem({ transport: memoryTransport() });
      await system.spawnNameServer({ id: 'ns-1' });
      await new Promise((resolve) => system.env.clock.setTimeout(resolve, 300));
      console.log('timer fired');
      await system.stop();
      console.log('stopped');
    `);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('timer fired\nstopped\n');
    expect(r.status).toBe(0); // ended by itself, well before the spawn timeout
  });
});
