import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's package; the tests never download a browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_MISSING = `${CHROMIUM_PATH} is missing: run \`apt-get install chromium\` (or .ci/install-chromium.sh) to run the browser tests`;

/**
 * Whether browser tests can run here. Locally a missing browser skips them with a visible
 * message; in CI (CI=true) it is a failure, so the browser tests cannot silently stop running.
 */
export function chromiumAvailability(env: Readonly<Record<string, string | undefined>> = process.env): 'available' | 'skip' | 'fail' {
  if (existsSync(CHROMIUM_PATH)) return 'available';
  return env.CI === 'true' ? 'fail' : 'skip';
}

/**
 * Headless Chromium with everything that phones home switched off, so a test can assert that
 * the page alone made every request. Playwright gives each launch a fresh temporary profile.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
    timeout: 60_000,
  });
}
