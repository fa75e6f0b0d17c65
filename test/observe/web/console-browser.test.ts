/**
 * The web console in a real browser: headless Chromium opens the console of a running `mq dev --web`, finds the
 * broker's state chart with its active state marked, sees the consumer stop within a second of asking, and
 * saves a screenshot; then `mq observe --web --trace` serves a scenario trace and the test steps to chosen
 * moments and checks the chart against the trace. Runs the built CLI: `npm run build` first.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Timeline } from '../../../observe/timeline.js';
import { readTrace } from '../../../observe/trace-records.js';
import { launchChromium } from '../../support/chromium.js';
import { runMq, spawnMq, type MqProcess } from '../../support/mq-process.js';

jest.setTimeout(60_000);

const ROOT = resolve(__dirname, '..', '..', '..');
const BROKER = 'broker.broker-a.0';

describe('web console in a browser', () => {
  let browser: Browser;
  let dir: string;
  let mq: MqProcess | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'console-browser-'));
  });
  afterEach(async () => {
    await mq?.stop();
    mq = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(url: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    // Nothing but the console's own server.
    const origin = new URL(url).origin;
    await page.route('**/*', (route) => (route.request().url().startsWith(origin) || route.request().url().startsWith('data:') ? route.continue() : route.abort()));
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(url);
    expect(errors).toEqual([]);
    return page;
  }

  it("mq dev --web: the broker's chart shows its active state; a consumer stopped shows within 1 s", async () => {
    mq = spawnMq(['dev', '--web', '127.0.0.1:0', '--count', '20'], { stdin: true });
    const url = /web console at (\S+)/.exec(await mq.waitForLine(/web console at /))![1]!;
    await mq.waitForLine(/keeps running/, 30_000);
    const page = await open(url);
    const broker = page.locator(`.card[data-actor="${BROKER}"]`);
    await broker.locator('.st[data-active="true"][data-path="serving"]').waitFor({ timeout: 5_000 });
    expect(await broker.getAttribute('data-state')).toBe('serving');
    const consumer = page.locator('.card[data-actor^="client.consumer-"]');
    await consumer.locator('.st[data-active="true"][data-path="running"]').waitFor({ timeout: 5_000 });

    mq.write('stop consumer\n');
    const asked = Date.now();
    await consumer.locator('.st[data-active="true"]:is([data-path="stopping"], [data-path="stopped"])').waitFor({ timeout: 1_000 });
    expect(Date.now() - asked).toBeLessThanOrEqual(1_000);
    await consumer.locator('.st[data-active="true"][data-path="stopped"]').waitFor({ timeout: 5_000 });
    expect(await page.locator('#dropped').getAttribute('data-count')).toBe('0');

    const shot = join(dir, 'console.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);

    // the broker's requests (they bypass its machine) show by code in the Brokers tab, with its figures
    await page.click('button[data-tab="brokers"]');
    await page.locator(`tr[data-broker="${BROKER}"]`).waitFor({ timeout: 5_000 });
    const sends = page.locator(`tr[data-request="${BROKER} SEND_MESSAGE"] td.num`).first();
    await sends.waitFor({ timeout: 5_000 });
    expect(Number((await sends.textContent())!.replace(/[^\d]/g, ''))).toBe(20);
    await page.screenshot({ path: join(dir, 'brokers.png'), fullPage: true });
    await page.close();

    mq.kill('SIGINT');
    const exit = await mq.waitForExit(15_000);
    expect(exit.code).toBe(130);
    await mq.waitForLine(/mq dev: stopped/);
  });

  it('mq observe --web --trace: steps through a scenario trace to chosen moments', async () => {
    const trace = join(dir, 'first-hour.trace');
    const run = await runMq(['scenario', 'run', join(ROOT, 'scenarios', 'files', 'first-hour.yaml'), '--seed', '1', '--trace', trace], { timeoutMs: 30_000 });
    expect(run.code).toBe(0);

    // What the trace says: the broker crashed at 3 s and came back at 4 s through starting and registering.
    const lines = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; t: number; k: string; id?: string; s?: unknown });
    const brokerStates = lines.filter((l) => l.k === 'state' && l.id === BROKER);
    const registering = brokerStates.find((l) => l.t > 0 && l.s === 'registering')!;
    expect(registering).toBeDefined();
    const before = brokerStates.filter((l) => l.t < registering.t).at(-1)!; // its state before the restart
    const timeline = new Timeline(readTrace(readFileSync(trace, 'utf8')).records);
    const target = timeline.records.findIndex((r) => r.seq === registering.seq) + 1; // right after that line
    const start = timeline.countAt(registering.t - 1);
    expect(target - start).toBeGreaterThan(0);
    expect(target - start).toBeLessThan(60);

    mq = spawnMq(['observe', '--web', '127.0.0.1:0', '--trace', trace]);
    const url = /web console at (\S+)/.exec(await mq.waitForLine(/web console at /))![1]!;
    expect(mq.stdout).not.toMatch(/watching/); // a trace alone: no live source
    const page = await open(url);
    await page.locator('#mode.trace').waitFor({ timeout: 5_000 });
    const broker = page.locator(`.card[data-actor="${BROKER}"]`);

    // A moment by time: just before the restart the broker was as the trace last said.
    await page.fill('#tt-goto', String(registering.t - 1));
    await page.press('#tt-goto', 'Enter');
    await expect(page.locator('#tt-time').getAttribute('data-pos')).resolves.toBe(String(start));
    await broker.locator(`.st[data-active="true"][data-path="${String(before.s)}"]`).waitFor({ timeout: 2_000 });

    // Record by record to the moment it entered registering in its second life.
    for (let pos = start; pos < target; pos++) await page.click('#tt-next');
    await expect(page.locator('#tt-time').getAttribute('data-pos')).resolves.toBe(String(target));
    await broker.locator('.st[data-active="true"][data-path="registering"]').waitFor({ timeout: 2_000 });
    expect(await broker.getAttribute('data-state')).toBe('registering');
    expect(await broker.locator('.st[data-active="true"][data-path="serving"]').count()).toBe(0);

    // One state change on, and one back.
    await page.click('#tt-next-state');
    const next = Number(await page.locator('#tt-time').getAttribute('data-pos'));
    expect(next).toBe(timeline.stepStateChange(target, 1));
    await page.click('#tt-prev-state');
    await expect(page.locator('#tt-time').getAttribute('data-pos')).resolves.toBe(String(timeline.stepStateChange(next, -1)));
    await page.screenshot({ path: join(dir, 'trace.png'), fullPage: true });
    await page.close();
  });
});
