/**
 * Headless Chromium for the web console's browser tests: Debian's `chromium` driven by playwright-core. No test
 * skips when it is missing: they fail saying to install it (`.ci/run` does).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Launches headless Chromium with nothing reaching outside hosts; throws with what to install when it is absent. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the web console's browser tests need Debian's chromium (apt-get install chromium; .ci/run installs it)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
