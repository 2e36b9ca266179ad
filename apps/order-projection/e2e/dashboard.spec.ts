// The live dashboard in a real browser (a system Chromium, else the headless shell from the
// @sparticuz/chromium npm package; driven by playwright-core) against order-projection as an OS
// process, fed with order events published straight to Kafka.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  orderConfirmedTopic,
  orderPlacedTopic,
  type OrderConfirmed,
  type OrderPlaced,
} from '@tideline/contracts';
import { Publisher, RecordSigner, RegistryCodec, createKafka } from '@tideline/messaging';
import { chromiumArgs, chromiumExecutable, testInfra } from '@tideline/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { v7 as uuidv7 } from 'uuid';
import { OrderStack } from './support';

const root = path.resolve(__dirname, '..', '..', '..');
const screenshotPath = path.join(root, 'dist', 'test-results', 'dashboard.png');
/** How long the page may take to show a change (Kafka → projection → feed → SSE → DOM). */
const LIVE_MS = 20_000;

let stack: OrderStack;
let publisher: Publisher;
let baseUrl = '';
let browser: Browser | undefined;
let page: Page;
let run = '';

async function launchBrowser(): Promise<Browser> {
  const binary = await chromiumExecutable();
  try {
    return await chromium.launch({ executablePath: binary.path, headless: true, args: chromiumArgs() });
  } catch (error) {
    throw new Error(
      `chromium at ${binary.path} (${binary.source}) did not start: ${(error as Error).message}`,
    );
  }
}

async function json<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return (await response.json()) as T;
}

beforeAll(async () => {
  browser = await launchBrowser();
  // order-projection (and order-api, unused here) as OS processes; the events come straight from Kafka.
  stack = await OrderStack.start({ processors: 0 });
  run = stack.run;
  baseUrl = stack.projection.url;
  const infra = testInfra();
  publisher = new Publisher({
    kafka: createKafka({ brokers: infra.kafkaBrokers, clientId: run }),
    codec: new RegistryCodec({ registryUrl: infra.registryUrl }),
    signer: new RecordSigner({ signingKey: stack.signingKey, defaultPolicy: 'required' }),
    service: 'order-api',
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 720 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await publisher?.close();
  await stack?.stop();
}, 60_000);

it('shows a new order and then its confirmation live, without reloading, and updates the counts', async () => {
  const navigations: string[] = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations.push(frame.url());
  });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  const response = await page.goto(`${baseUrl}/`);
  expect(response?.status()).toBe(200);
  expect(await page.title()).toBe('Tideline · orders live');
  await page.locator('#connection', { hasText: /^live$/ }).waitFor({ timeout: 10_000 });
  await page.evaluate('window.__marker = 1');

  // The order arrives after the page is open: only the live stream can bring it.
  const orderId = uuidv7();
  const customerId = `${run}-customer`;
  const sku = `${run}-apple`;
  const placed: OrderPlaced = {
    orderId,
    customerId,
    currency: 'EUR',
    lines: [{ sku, quantity: 2 }],
    placedAt: Date.now(),
  };
  await publisher.publish(orderPlacedTopic, orderId, placed);

  const row = page.locator(`tr[data-order-id="${orderId}"]`);
  await page.waitForSelector(`tr[data-order-id="${orderId}"][data-status="pending"]`, { timeout: LIVE_MS });
  expect(await row.count()).toBe(1);
  expect(await row.locator('.status').textContent()).toBe('pending');
  expect(await row.locator('.status').getAttribute('class')).toBe('status pending');
  expect(await row.locator('.id').textContent()).toBe(orderId);
  expect(await row.locator('.customer').textContent()).toBe(customerId);
  expect(await row.locator('.total').textContent()).toBe('–');

  const confirmed: OrderConfirmed = {
    orderId,
    customerId,
    currency: 'EUR',
    lines: [{ sku, quantity: 2, unitPriceCents: 150, lineTotalCents: 300 }],
    totalCents: 300,
    confirmedAt: Date.now(),
  };
  await publisher.publish(orderConfirmedTopic, orderId, confirmed);

  await page.waitForSelector(`tr[data-order-id="${orderId}"][data-status="confirmed"]`, {
    timeout: LIVE_MS,
  });
  expect(await row.count()).toBe(1); // the same row changed, none was added
  expect(await row.locator('.status').textContent()).toBe('confirmed');
  expect(await row.locator('.status').getAttribute('class')).toBe('status confirmed');
  expect(await row.locator('.total').textContent()).toBe('3.00 EUR');

  // The cards follow /stats, read every two seconds.
  await page.waitForFunction(
    "Number(document.getElementById('count-confirmed').textContent) >= 1",
    undefined,
    { timeout: 10_000 },
  );
  const card = async (id: string) => Number(await page.locator(`#${id}`).textContent());
  expect(await card('count-total')).toBeGreaterThanOrEqual(1);
  expect(await card('lag')).toBeGreaterThanOrEqual(0);
  const stats = await json<{ byStatus: Record<string, number> }>(`${baseUrl}/stats`);
  expect(stats.byStatus['confirmed']).toBeGreaterThanOrEqual(1);

  // Still the first page: nothing reloaded or navigated.
  expect(await page.evaluate('window.__marker')).toBe(1);
  expect(navigations).toEqual([`${baseUrl}/`]);
  expect(await page.locator('#connection').textContent()).toBe('live');
  expect(pageErrors).toEqual([]);

  await mkdir(path.dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath, fullPage: true });
});
