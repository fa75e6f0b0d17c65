import { startSystem } from '../../../index.js';
import { memoryTransport } from '../../../transports/memory.js';

describe('system.observe', () => {
  it('serves the console of an embedded system and stops with it', async () => {
    const system = await startSystem({ transport: memoryTransport() });
    await system.spawnNameServer({ id: 'ns-1' });
    const web = await system.observe({ port: 0 });
    expect(web.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const controller = new AbortController();
    const res = await fetch(new URL('/api/stream', web.url), { signal: controller.signal });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: snapshot')) text += new TextDecoder().decode((await reader.read()).value);
    while (!/event: snapshot\ndata: .*\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('"address":"namesrv.ns-1"');
    expect(text).toContain('"kind":"machine"');
    controller.abort();
    await system.stop();
    await expect(fetch(new URL('/api/info', web.url))).rejects.toThrow();
  });
});
