import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { chromium, Browser, Page } from 'playwright-core';
import { buildSample, SampleProcess, startSample } from '../support/sample-process';
import { CHROMIUM_ARGS, chromiumPath } from '../support/chromium';
import { dropTable, randomTableName } from '../support/dynamodb';

const executablePath = chromiumPath();
// Without Chromium (a developer machine that has not installed it) this file reports as skipped; in CI it fails.
const describeInBrowser = executablePath ? describe : describe.skip;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describeInBrowser('the NestJS sample page in headless Chromium', () => {
  jest.setTimeout(120_000);
  const tableName = randomTableName('browser');
  let browser: Browser;
  let sample: SampleProcess;
  let port: number;

  beforeAll(async () => {
    buildSample();
    port = await freePort();
    sample = await startSample(port, tableName);
    browser = await chromium.launch({ executablePath: executablePath!, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await sample?.stop();
    await dropTable(tableName);
  });

  async function expectText(page: Page, selector: string, text: string): Promise<void> {
    await page.waitForFunction(
      ([s, t]) => document.querySelector(s)?.textContent?.trim() === t,
      [selector, text] as const,
      { timeout: 10_000 },
    );
  }

  it('logs in, fills the cart, keeps it across a reload and an app restart, and logs out', async () => {
    const page = await browser.newPage();
    await page.goto(sample.url);
    await expectText(page, '#user', 'nobody');

    await page.fill('#name', 'Ada');
    await page.click('#login button');
    await expectText(page, '#user', 'Ada');

    // One at a time, as a person does: each add is shown before the next.
    for (const [item, cart] of [['tea', 'tea × 1'], ['scones', 'tea × 1scones × 1'], ['tea', 'tea × 2scones × 1']] as const) {
      await page.fill('#item', item);
      await page.click('#add button');
      await expectText(page, '#cart', cart);
    }

    await page.reload();
    await expectText(page, '#cart', 'tea × 2scones × 1');

    // A new process has nothing in memory: the session must come from DynamoDB.
    await sample.stop();
    sample = await startSample(port, tableName);
    await page.reload();
    await expectText(page, '#user', 'Ada');
    await expectText(page, '#cart', 'tea × 2scones × 1');
    mkdirSync(join(__dirname, '..', '..', '.tmp'), { recursive: true });
    await page.screenshot({ path: join(__dirname, '..', '..', '.tmp', 'sample-page.png') });

    const sid = async () => (await page.context().cookies()).find((c) => c.name === 'sid')?.value;
    const loggedIn = await sid();
    await page.click('#logout');
    await expectText(page, '#user', 'nobody');
    await expectText(page, '#cart', '');
    await expectText(page, '#views', '1'); // the page view after logout counts in a new, anonymous session
    expect(await sid()).not.toBe(loggedIn);
  });
});
