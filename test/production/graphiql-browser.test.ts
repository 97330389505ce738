import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { DASHBOARD_QUERY, renderGraphiQL } from '../../src/server/graphiql.js';
import { createHttpServer, type GatewayHttpServer } from '../../src/server/http-server.js';
import { createSimulator, DEMO_TOKENS, type Simulator } from '../../src/simulator/index.js';
import { CHROMIUM_MISSING, chromiumAvailability, launchChromium } from '../helpers/chromium.js';

const SCREENSHOT = fileURLToPath(new URL('../artifacts/graphiql.png', import.meta.url));
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The options object the page hands to GraphiQL, as the browser will see it. */
function pageOptions(html: string): Record<string, unknown> {
  const match = /renderYogaGraphiQL\(\s*window\.document\.querySelector\('#root'\),\s*(\{.*?\}),\s*\);/s.exec(html);
  if (!match?.[1]) throw new Error('the page does not call renderYogaGraphiQL with an options object');
  return JSON.parse(match[1]) as Record<string, unknown>;
}

/** Requests a page may make without leaving the machine: loopback hosts and in-page blob:/data: URLs. */
function staysOnMachine(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'blob:' || protocol === 'data:' || protocol === 'about:') return true;
  return (protocol === 'http:' || protocol === 'https:') && LOOPBACK.has(hostname);
}

/** Text as a user reads it: Monaco draws spaces as no-break spaces. */
async function visibleText(locator: Locator): Promise<string> {
  return (await locator.innerText()).replace(/\u00a0/g, ' ');
}

describe('renderGraphiQL', () => {
  let html = '';
  beforeAll(async () => {
    html = await renderGraphiQL({ endpoint: '/graphql', demoToken: DEMO_TOKENS.globex });
  });

  it('inlines every script and style so the page works with no internet access', () => {
    expect(html).not.toMatch(/<script[^>]*\ssrc\s*=/i);
    expect(html).not.toMatch(/<link(?![^>]*rel="icon"[^>]*href="data:)[^>]*>/i);
    expect(html).not.toMatch(/@import|url\(\s*['"]?(https?:)?\/\//i);
    expect(html.length).toBeGreaterThan(1_000_000);
  });

  it('pre-fills the dashboard query and the demo token as a bearer Authorization header', () => {
    const options = pageOptions(html);
    expect(options).toMatchObject({ endpoint: '/graphql', defaultQuery: DASHBOARD_QUERY, shouldPersistHeaders: false });
    expect(JSON.parse(options.headers as string)).toEqual({ Authorization: `Bearer ${DEMO_TOKENS.globex}` });
  });

  it('shows where a real token goes when there is no demo token', async () => {
    const options = pageOptions(await renderGraphiQL({ endpoint: '/graphql' }));
    expect(JSON.parse(options.headers as string)).toEqual({ Authorization: 'Bearer <your Katapult API token>' });
  });

  it('refuses option values that would end the inline script', async () => {
    await expect(renderGraphiQL({ endpoint: '/graphql', title: 'x</script><script>alert(1)</script>' })).rejects.toThrow(/title must not contain/);
    await expect(renderGraphiQL({ endpoint: '/graphql', defaultQuery: '<!-- { a }' })).rejects.toThrow(/defaultQuery must not contain/);
  });
});

const availability = chromiumAvailability();
if (availability === 'skip') console.warn(`Skipping the GraphiQL browser test: ${CHROMIUM_MISSING}`);

describe('GraphiQL in headless Chromium', () => {
  let simulator: Simulator;
  let gateway: GatewayHttpServer;
  let browser: Browser | null = null;
  let url = '';

  beforeAll(async () => {
    if (availability !== 'available') return;
    simulator = createSimulator();
    const { baseUrl } = await simulator.listen({ port: 0, host: '127.0.0.1' });
    const config = loadConfig({ LOG_LEVEL: 'silent', KATAPULT_API_URL: baseUrl });
    const app = createApp({ config, logger: createLogger({ level: 'silent' }), graphiqlDemoToken: DEMO_TOKENS.globex });
    gateway = createHttpServer({ app });
    ({ url } = await gateway.listen(0, '127.0.0.1'));
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.shutdown(0);
    await simulator?.close();
  });

  // Locally a missing browser skips with the install hint in the test name; in CI it fails.
  const browserTest = availability === 'skip' ? it.skip : it;
  browserTest(
    `runs the pre-filled dashboard query with the demo token and shows globex's VMs, without leaving the machine${availability === 'skip' ? ` (skipped: ${CHROMIUM_MISSING})` : ''}`,
    async () => {
      if (availability === 'fail') expect.fail(CHROMIUM_MISSING);
      const context = await browser!.newContext({ viewport: { width: 1400, height: 1000 } });
      const requested: string[] = [];
      context.on('request', (request) => requested.push(request.url()));
      const page = await context.newPage();

      // A browser's GET /graphql asks for text/html: the edge answers with the GraphiQL page.
      const served = await page.goto(`${url}/graphql`, { waitUntil: 'load', timeout: 60_000 });
      expect(served?.status()).toBe(200);
      expect(served?.headers()['content-type']).toMatch(/^text\/html/);
      const headersEditor = page.locator('.graphiql-editor-tool');
      await expect.poll(() => visibleText(headersEditor), { timeout: 30_000 }).toContain(`Bearer ${DEMO_TOKENS.globex}`);
      await expect.poll(() => visibleText(page.locator('.graphiql-query-editor')), { timeout: 30_000 }).toContain('query Dashboard');

      const dashboard = page.waitForResponse(
        (response) => response.request().method() === 'POST' && (response.request().postData() ?? '').includes('Dashboard'),
        { timeout: 60_000 },
      );
      await page.locator('.graphiql-execute-button').click();
      const response = await dashboard;
      expect(response.request().headers().authorization).toBe(`Bearer ${DEMO_TOKENS.globex}`);
      expect(response.status(), await response.text()).toBe(200);

      const expected = simulator.visibleVirtualMachines(DEMO_TOKENS.globex, 'globex').slice(0, 10).map((vm) => vm.name);
      const body = (await response.json()) as { data: { organization: { name: string; virtualMachines: { edges: Array<{ node: { name: string } }> } } } };
      expect(body.data.organization.virtualMachines.edges.map((edge) => edge.node.name)).toEqual(expected);

      // The result editor renders only the lines in view, so the first VMs are what a user sees.
      const resultPane = page.locator('.graphiql-response');
      await expect.poll(() => visibleText(resultPane), { timeout: 30_000 }).toContain(body.data.organization.name);
      const shown = await visibleText(resultPane);
      expect(shown).toContain(expected[0]);
      expect(shown).not.toContain('"errors"');

      await mkdir(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT });
      await context.close();

      expect(requested.filter((requestUrl) => !staysOnMachine(requestUrl))).toEqual([]);
      expect(requested.filter((requestUrl) => requestUrl.startsWith(url)).length).toBeGreaterThanOrEqual(3);
    },
    120_000,
  );
});
