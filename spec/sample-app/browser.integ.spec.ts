import { ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { chromium, Browser, Page } from 'playwright-core';
import { buildSample, SampleProcess, startSample } from '../support/sample-process';
import { CHROMIUM_ARGS, chromiumPath } from '../support/chromium';
import { dropTable, endpoint, randomTableName } from '../support/dynamodb';
import { ageLogins } from './age-logins';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'build', 'sample-app', 'main.js');
const executablePath = chromiumPath();
// Without Chromium (a developer machine that has not installed it) the browser tests report as skipped; in CI they fail.
const describeInBrowser = executablePath ? describe : describe.skip;

jest.setTimeout(120_000);
// One build for every test here: `npm start` runs build/sample-app/main.js.
beforeAll(() => buildSample());

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The built sample as `npm start` runs it, with its output collected. */
function runSample(env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => { stdout: string; stderr: string }; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => ({ stdout, stderr }), exited };
}

describe('npm start (the built sample as a process)', () => {
  it.each(['nest', 'nest-fastify', 'koa'])('%s: with PORT=0 prints the URL it really listens on, and serves there', async (sample) => {
    const tableName = randomTableName('port0');
    const run = runSample({ ...process.env, PORT: '0', SAMPLE: sample, SESSION_TABLE: tableName, DYNAMODB_ENDPOINT: endpoint(), SESSION_SECRET: 'browser-spec-secret-0123456789abcdef0123' });
    try {
      const deadline = Date.now() + 30_000;
      let url: string | undefined;
      while (!(url = /listening on (http:\/\/\S+)/.exec(run.output().stdout)?.[1])) {
        if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`no URL printed:\n${run.output().stdout}${run.output().stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*\/$/);
      expect(await (await fetch(`${url}health`)).json()).toEqual({ ok: true });
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
      await dropTable(tableName);
    }
  });

  it('without java on the PATH stops with the sentence naming Java and DYNAMODB_ENDPOINT, and no stack under it', async () => {
    const noJava = mkdtempSync(join(tmpdir(), 'no-java-'));
    try {
      const { DYNAMODB_ENDPOINT: _endpoint, AWS_REGION: _region, AWS_DEFAULT_REGION: _defaultRegion, ...env } = process.env;
      const run = runSample({ ...env, PATH: noJava });
      expect(await run.exited).toBe(1);
      const { stdout, stderr } = run.output();
      expect(stdout).toBe('');
      expect(stderr.trim()).toMatch(/^DynamoDB Local needs Java 17 or newer on the PATH, and `java` was not found\. .*DYNAMODB_ENDPOINT/);
      expect(stderr.trim().split('\n')).toHaveLength(1); // the sentence, not the frames
    } finally {
      rmSync(noJava, { recursive: true, force: true });
    }
  });
});

describeInBrowser('the NestJS sample page in headless Chromium', () => {
  const tableName = randomTableName('browser');
  let browser: Browser;
  let sample: SampleProcess;
  let port: number;

  beforeAll(async () => {
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

  /** The calls panel: which request, its summary, and one line per DynamoDB call (each matched by a pattern). */
  async function expectCalls(page: Page, request: string, summary: string, lines: RegExp[]): Promise<void> {
    try {
      await page.waitForFunction(
        ([r, s, patterns]) => {
          const text = (selector: string): string | undefined => document.querySelector(selector)?.textContent?.trim();
          const shown = Array.from(document.querySelectorAll('#calls-list li'), (li) => li.textContent?.trim() ?? '');
          return text('#calls-request') === r && text('#calls-summary') === s &&
            shown.length === patterns.length && shown.every((line, i) => new RegExp(patterns[i]!).test(line));
        },
        [request, summary, lines.map((l) => l.source)] as const,
        { timeout: 10_000 },
      );
    } catch (e) {
      const panel = await page.locator('#calls').innerText();
      throw new Error(`the calls panel does not show ${request}: ${summary} ${lines.join(' ')}; it shows:\n${panel}`, { cause: e });
    }
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

    const sid = async () => (await page.context().cookies()).find((c) => c.name === 'sid')?.value;
    const loggedIn = await sid();
    await page.click('#logout');
    await expectText(page, '#user', 'nobody');
    await expectText(page, '#cart', '');
    await expectText(page, '#views', '0'); // the session is gone; the new one has seen no page yet
    expect(await sid()).not.toBe(loggedIn);
    await page.reload();
    await expectText(page, '#views', '1'); // the page view after logout counts in a new, anonymous session
    await page.close();
  });

  it('shows the DynamoDB calls of each request, and an error until the next action', async () => {
    const page = await browser.newPage({ viewport: { width: 760, height: 600 } });
    await page.goto(sample.url);
    // The page view of a new visitor: no session to read, one to create (holding the view count).
    await expectCalls(page, 'GET /api/me', '1 UpdateItem', [/^UpdateItem · [\d.]+ WCU · new item with views$/]);

    await page.fill('#name', 'Ada');
    await page.click('#login button');
    await expectText(page, '#user', 'Ada');

    await page.click('#try-health');
    await expectCalls(page, 'GET /health', '0 calls', []);

    await page.click('#try-read');
    // The sample's table is new, so it has the split layout (the default): a read is one Query.
    await expectCalls(page, 'GET /api/cart', '1 Query', [/^Query · [\d.]+ RCU$/]);

    for (const [item, cart] of [['tea', 'tea × 1'], ['scones', 'tea × 1scones × 1']] as const) {
      await page.fill('#item', item);
      await page.click('#add button');
      await expectText(page, '#cart', cart);
    }
    // Lazy load, then a delta write: the UpdateItem names `cart` and no other session attribute. (The login set a
    // principal, for "Your devices": the item is in the principal-sessions index too, and the write costs a unit there.)
    await expectCalls(page, 'POST /api/cart', '1 Query + 1 UpdateItem', [
      /^Query · [\d.]+ RCU$/,
      /^UpdateItem · [\d.]+ WCU \([\d.]+ for principal-sessions\) · sets cart$/,
    ]);
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    await page.screenshot({ path: join(ROOT, '.tmp', 'sample-page.png'), fullPage: true });
    // UPDATE_SAMPLE_SCREENSHOT=1 refreshes the README's picture of the page.
    if (process.env['UPDATE_SAMPLE_SCREENSHOT'] === '1') copyFileSync(join(ROOT, '.tmp', 'sample-page.png'), join(ROOT, 'docs', 'sample-page.png'));

    // 70,000 characters: the body parser takes it (Express: up to 100 kB), the session's maxSessionBytes (64 KiB) does not.
    await page.fill('#item', 'x'.repeat(70_000));
    await page.click('#add button');
    await expectCalls(page, 'POST /api/cart', '1 Query', [/^Query · [\d.]+ RCU$/]); // read, then refused before any write
    await page.waitForTimeout(500); // whatever the page still does after the answer, the error must survive it
    const error = page.locator('#error');
    expect(await error.isVisible()).toBe(true);
    expect(await error.textContent()).toMatch(/^413 \S.*maxSessionBytes/);
    await expectText(page, '#cart', 'tea × 1scones × 1');

    // The next action clears it.
    await page.click('#try-health');
    await expectCalls(page, 'GET /health', '0 calls', []);
    await expectText(page, '#error', '');
    await page.close();
  });

  /** The texts of the "Your devices" list, one per device: its browser, address and last-seen time. */
  const devicesShown = (page: Page): Promise<string[]> => page.locator('#devices li .agent').allTextContents();

  it('two browsers of one user: one lists the other, signs it out, and the other is logged out on its next request', async () => {
    const laptop = await browser.newContext({ userAgent: 'Laptop Chromium (spec)' });
    const phone = await browser.newContext({ userAgent: 'Phone Chromium (spec)' });
    const stranger = await browser.newContext({ userAgent: 'Stranger Chromium (spec)' });
    try {
      const signIn = async (context: typeof laptop, name: string): Promise<Page> => {
        const page = await context.newPage();
        await page.goto(sample.url);
        await page.fill('#name', name);
        await page.click('#login button');
        await expectText(page, '#user', name);
        return page;
      };
      const onLaptop = await signIn(laptop, 'Grace');
      const onPhone = await signIn(phone, 'Grace');
      const strangers = await signIn(stranger, 'Linus');
      await onPhone.fill('#item', 'umbrella');
      await onPhone.click('#add button');
      await expectText(onPhone, '#cart', 'umbrella × 1');

      // The laptop listed its devices at login, before the phone's: a refresh shows the phone, and only the phone.
      await expectText(onLaptop, '#devices', '');
      await onLaptop.click('#devices-refresh');
      await expectText(onLaptop, '#devices li .agent', 'Phone Chromium (spec)');
      expect(await devicesShown(onLaptop)).toEqual(['Phone Chromium (spec)']);
      expect(await onLaptop.locator('#devices li').innerText()).toMatch(/127\.0\.0\.1 · last seen /);
      expect(await onLaptop.locator('#devices-empty').isVisible()).toBe(false);
      // The phone logged in second, so it lists the laptop at once; the stranger lists no one of Grace's.
      await expectText(onPhone, '#devices li .agent', 'Laptop Chromium (spec)');
      expect(await devicesShown(strangers)).toEqual([]);

      await onLaptop.locator('#devices li', { hasText: 'Phone Chromium (spec)' }).locator('button.sign-out').click();
      await expectText(onLaptop, '#devices', '');
      expect(await onLaptop.locator('#devices-empty').isVisible()).toBe(true);
      await expectText(onLaptop, '#error', '');

      // The phone's page still shows Grace's cart until its next request, which finds no session: an empty cart.
      expect(await onPhone.locator('#cart').textContent()).toBe('umbrella × 1');
      await onPhone.click('#try-read');
      await expectCalls(onPhone, 'GET /api/cart', '1 Query', [/^Query · [\d.]+ RCU$/]);
      await expectText(onPhone, '#cart', '');
      await onPhone.reload();
      await expectText(onPhone, '#user', 'nobody');
      await expectText(onPhone, '#views', '1');
      expect(await devicesShown(onPhone)).toEqual([]);
      // The laptop and the stranger are still who they were.
      await onLaptop.reload();
      await expectText(onLaptop, '#user', 'Grace');
      await expectText(onLaptop, '#devices', '');
      await strangers.reload();
      await expectText(strangers, '#user', 'Linus');

      // "Sign out other devices": the phone logs in again, with a second tab's worth of company; both go.
      await onPhone.fill('#name', 'Grace');
      await onPhone.click('#login button');
      await expectText(onPhone, '#user', 'Grace');
      const tablet = await browser.newContext({ userAgent: 'Tablet Chromium (spec)' });
      try {
        const onTablet = await signIn(tablet, 'Grace');
        await onLaptop.click('#devices-refresh');
        await onLaptop.waitForFunction(() => document.querySelectorAll('#devices li').length === 2, undefined, { timeout: 10_000 });
        expect((await devicesShown(onLaptop)).sort()).toEqual(['Phone Chromium (spec)', 'Tablet Chromium (spec)']);
        await onLaptop.click('#sign-out-others');
        await expectText(onLaptop, '#devices', '');
        for (const page of [onPhone, onTablet]) {
          await page.reload();
          await expectText(page, '#user', 'nobody');
        }
        await onLaptop.reload();
        await expectText(onLaptop, '#user', 'Grace');
        await strangers.reload();
        await expectText(strangers, '#user', 'Linus');
      } finally {
        await tablet.close();
      }
    } finally {
      await Promise.all([laptop.close(), phone.close(), stranger.close()]);
    }
  });

  it('changes the e-mail after a recent login; past 5 minutes it asks for the name again, then applies the change', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(sample.url);
      // Nobody logged in: nobody to confirm, so no prompt; the error says to log in.
      await expectText(page, '#user', 'nobody');
      await page.fill('#email-address', 'hedy@example.com');
      await page.click('#email button');
      await page.waitForFunction(() => /^401 .*Log in/.test(document.querySelector('#error')?.textContent ?? ''), undefined, { timeout: 10_000 });
      expect(await page.locator('#reauth').isVisible()).toBe(false);
      await expectText(page, '#email-shown', 'none');

      await page.fill('#name', 'Hedy');
      await page.click('#login button');
      await expectText(page, '#user', 'Hedy');

      await page.fill('#email-address', 'hedy@example.com');
      await page.click('#email button');
      await expectText(page, '#email-shown', 'hedy@example.com');
      expect(await page.locator('#reauth').isVisible()).toBe(false);

      // Six minutes later, as far as the stored login is concerned.
      expect(await ageLogins(tableName, 'Hedy', 360)).toBe(1);
      await page.fill('#email-address', 'hedy@example.org');
      await page.click('#email button');
      await page.locator('#reauth').waitFor({ state: 'visible', timeout: 10_000 });
      await expectText(page, '#email-shown', 'hedy@example.com');
      await expectText(page, '#error', '');

      // Another name is no proof: the prompt stays, with the reason in #error.
      await page.fill('#reauth-name', 'Grace');
      await page.click('#reauth button:not([type=button])');
      await page.waitForFunction(() => /^401 /.test(document.querySelector('#error')?.textContent ?? ''), undefined, { timeout: 10_000 });
      expect(await page.locator('#reauth').isVisible()).toBe(true);
      await expectText(page, '#email-shown', 'hedy@example.com');

      // The name again: session.login() once more, and the change it asked for goes through.
      await page.fill('#reauth-name', 'Hedy');
      await page.click('#reauth button:not([type=button])');
      await expectText(page, '#email-shown', 'hedy@example.org');
      await page.locator('#reauth').waitFor({ state: 'hidden', timeout: 10_000 });
      await expectText(page, '#error', '');
      await expectText(page, '#user', 'Hedy');
      await page.reload();
      await expectText(page, '#email-shown', 'hedy@example.org');
    } finally {
      await context.close();
    }
  });
});
