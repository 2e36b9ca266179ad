#!/usr/bin/env node
// Demo traffic for a running Tideline (`npm start`): sets a small catalog (EUR prices, one
// inactive product), then places orders at a steady rate for random customers — mostly
// valid, some with an unknown SKU, some with the inactive product, some over the order
// limit — and cancels some of the orders it placed. Plain Node ESM, global fetch.
//
//   node tools/demo/traffic.mjs [--rate N] [--count N] [--api URL] [--api-key KEY]
//
// --rate   orders per second (default 3)             --count  commands to send, then exit
// --api    order-api base URL (default http://127.0.0.1:$API_PORT, port 3000)
// --api-key  when order-api requires keys (default: $TIDELINE_API_KEY)
// Without --count it runs until Ctrl-C. Exit: 0 done, 1 a command failed or the catalog
// could not be set, 2 bad arguments (one line on stderr, nothing sent).
import { randomUUID } from 'node:crypto';

const USAGE = 'usage: traffic.mjs [--rate N] [--count N] [--api URL] [--api-key KEY]';

class UsageError extends Error {}

function parseArgs(argv, env) {
  if (env.API_PORT?.trim() && !/^\d{1,5}$/.test(env.API_PORT.trim()))
    throw new UsageError(`API_PORT=${env.API_PORT} is not a TCP port; pass --api URL`);
  const options = {
    rate: 3,
    count: undefined,
    api: `http://127.0.0.1:${env.API_PORT?.trim() || 3000}`,
    apiKey: env.TIDELINE_API_KEY || undefined,
    progressMs: 5_000,
    help: false,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const [name, inline] = argv[i].split(/=(.*)/s, 2);
    if ((name === '--help' || name === '-h') && inline === undefined) {
      options.help = true;
      continue;
    }
    if (!['--rate', '--count', '--api', '--api-key'].includes(name))
      throw new UsageError(`unknown argument "${argv[i]}"; ${USAGE}`);
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') throw new UsageError(`${name} needs a value; ${USAGE}`);
    if (name === '--rate') {
      const rate = Number(value);
      if (!/^\d*\.?\d+$/.test(value) || !(rate > 0 && rate <= 1000))
        throw new UsageError(
          `--rate must be orders per second, a number above 0 and at most 1000 (got "${value}")`,
        );
      options.rate = rate;
    } else if (name === '--count') {
      const count = Number(value);
      if (!/^\d+$/.test(value) || count < 1 || !Number.isSafeInteger(count))
        throw new UsageError(`--count must be a whole number of commands, 1 or more (got "${value}")`);
      options.count = count;
    } else if (name === '--api') {
      let url;
      try {
        url = new URL(value);
      } catch {
        url = undefined;
      }
      if (!url || !['http:', 'https:'].includes(url.protocol))
        throw new UsageError(`--api must be an http(s) URL such as http://127.0.0.1:3000 (got "${value}")`);
      options.api = value.replace(/\/+$/, '');
    } else {
      options.apiKey = value;
    }
  }
  return options;
}

// ---------------------------------------------------------------------------
// What is sent

const CURRENCY = 'EUR';
const CATALOG = [
  { sku: 'DEMO-ESPRESSO-250G', name: 'Espresso beans 250 g', priceCents: 890, active: true },
  { sku: 'DEMO-FILTER-1KG', name: 'Filter coffee 1 kg', priceCents: 2490, active: true },
  { sku: 'DEMO-MUG', name: 'Stoneware mug', priceCents: 1200, active: true },
  { sku: 'DEMO-PAPERS-100', name: 'Paper filters (100)', priceCents: 450, active: true },
  { sku: 'DEMO-KETTLE', name: 'Gooseneck kettle', priceCents: 5450, active: true },
  { sku: 'DEMO-GRINDER', name: 'Hand grinder', priceCents: 7900, active: true },
  { sku: 'DEMO-MOKA-POT', name: 'Moka pot (discontinued)', priceCents: 3990, active: false },
];
const ACTIVE = CATALOG.filter((product) => product.active);
const INACTIVE = CATALOG.filter((product) => !product.active);
// 2,000 grinders: €158,000, over order-processor's MAX_ORDER_TOTAL_CENTS (npm start: €500, default €100,000).
const OVER_LIMIT = { sku: 'DEMO-GRINDER', quantity: 2_000 };
// Valid orders stay below €500: at most 3 lines of at most 2 items each (€316.80 at most).
const CUSTOMERS = Array.from({ length: 40 }, (_, i) => `demo-customer-${String(i + 1).padStart(3, '0')}`);
const REASONS = ['changed my mind', 'found it cheaper elsewhere', 'ordered by mistake', 'delivery too slow'];
/** The mix, in percent. A cancellation needs an order placed before; until then it is a valid order. */
const MIX = [
  ['valid', 70],
  ['unknown-sku', 8],
  ['inactive', 7],
  ['over-limit', 5],
  ['cancel', 10],
];

const pick = (list) => list[Math.floor(Math.random() * list.length)];
const between = (min, max) => min + Math.floor(Math.random() * (max - min + 1));

function validItems() {
  const products = [...ACTIVE].sort(() => Math.random() - 0.5).slice(0, between(1, 3));
  return products.map((product) => ({ sku: product.sku, quantity: between(1, 2) }));
}

function chooseKind() {
  let roll = Math.random() * 100;
  for (const [kind, weight] of MIX) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return 'valid';
}

// ---------------------------------------------------------------------------
// Sending, with retries where they are safe (every command carries an Idempotency-Key)

const MAX_ATTEMPTS = 6;
const REQUEST_TIMEOUT_MS = 15_000;
const MAX_IN_FLIGHT = 50;

const stats = {
  sent: 0,
  accepted: 0,
  failed: 0,
  retried: 0,
  kinds: { valid: 0, 'unknown-sku': 0, inactive: 0, 'over-limit': 0, cancel: 0 },
};
let lastFailure;
let stopping = false;
let wake = () => {};

const sleep = (ms) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
const plainSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retry-After as milliseconds (delta seconds or an HTTP date), capped at 30 s. */
function retryAfterMs(header) {
  if (header === null) return undefined;
  const secs = Number(header);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 30_000) : undefined;
}

const backoffMs = (attempt) => Math.min(500 * 2 ** (attempt - 1), 8_000);

/**
 * Sends one command; retries 503, 409 and 429 (after Retry-After) and network errors
 * with the same Idempotency-Key. Resolves the JSON answer of a 2xx, or undefined after
 * recording the failure. Never rejects.
 */
async function send(options, method, path, body) {
  const headers = { 'content-type': 'application/json', 'idempotency-key': randomUUID() };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  for (let attempt = 1; ; attempt += 1) {
    let response;
    let text;
    try {
      response = await fetch(`${options.api}${path}`, {
        method,
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      text = await response.text();
    } catch (error) {
      const reason = error.cause?.code ?? error.name ?? error.message;
      if (attempt < MAX_ATTEMPTS && !stopping) {
        stats.retried += 1;
        await plainSleep(backoffMs(attempt));
        continue;
      }
      return fail(`${method} ${path}: ${reason}`);
    }
    if ([409, 429, 503].includes(response.status) && attempt < MAX_ATTEMPTS && !stopping) {
      stats.retried += 1;
      await plainSleep(retryAfterMs(response.headers.get('retry-after')) ?? backoffMs(attempt));
      continue;
    }
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.ok) return json ?? {};
    const detail = json?.detail ?? json?.title ?? text.slice(0, 200);
    return fail(`${method} ${path}: ${response.status} ${detail}`);
  }
}

function fail(reason) {
  lastFailure = reason;
  return undefined;
}

const recent = []; // order ids placed and not cancelled yet, newest last

async function command(options) {
  let kind = chooseKind();
  if (kind === 'cancel' && recent.length === 0) kind = 'valid';
  stats.sent += 1;
  stats.kinds[kind] += 1;
  let answer;
  if (kind === 'cancel') {
    const orderId = recent.splice(Math.floor(Math.random() * recent.length), 1)[0];
    answer = await send(options, 'POST', `/orders/${orderId}/cancel`, { reason: pick(REASONS) });
  } else {
    const items =
      kind === 'valid'
        ? validItems()
        : kind === 'unknown-sku'
          ? [...validItems().slice(0, 1), { sku: `DEMO-UNKNOWN-${between(100, 999)}`, quantity: 1 }]
          : kind === 'inactive'
            ? [...validItems().slice(0, 1), { sku: pick(INACTIVE).sku, quantity: 1 }]
            : [OVER_LIMIT];
    answer = await send(options, 'POST', '/orders', {
      customerId: pick(CUSTOMERS),
      items,
      currency: CURRENCY,
    });
    if (answer?.orderId) {
      recent.push(answer.orderId);
      if (recent.length > 200) recent.shift();
    }
  }
  if (answer) stats.accepted += 1;
  else stats.failed += 1;
}

function summary() {
  const k = stats.kinds;
  const line =
    `demo: sent ${stats.sent} · accepted ${stats.accepted} · failed ${stats.failed} · retried ${stats.retried}` +
    ` (valid ${k.valid}, unknown SKU ${k['unknown-sku']}, inactive ${k.inactive}, over limit ${k['over-limit']}, cancel ${k.cancel})`;
  return lastFailure ? `${line} · last failure: ${lastFailure}` : line;
}

async function setCatalog(options) {
  for (const product of CATALOG) {
    const { sku, ...fields } = product;
    const answer = await send(options, 'PUT', `/catalog/products/${sku}`, { ...fields, currency: CURRENCY });
    if (!answer) return false;
  }
  return true;
}

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`traffic: ${error.message}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  let signals = 0;
  const onSignal = () => {
    signals += 1;
    if (signals > 1) process.exit(130);
    stopping = true;
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const inactive = INACTIVE.map((p) => p.sku).join(', ');
  process.stdout.write(
    `demo: setting the catalog at ${options.api}: ${CATALOG.length} products in ${CURRENCY} (inactive: ${inactive})\n`,
  );
  if (!(await setCatalog(options))) {
    process.stderr.write(`traffic: could not set the catalog at ${options.api}: ${lastFailure}\n`);
    return stopping ? 0 : 1;
  }
  lastFailure = undefined;
  process.stdout.write(
    `demo: placing ${options.count ?? 'orders'}${options.count ? ' commands' : ''} at ${options.rate}/s${options.count ? '' : ' until Ctrl-C'}\n`,
  );

  const progress = setInterval(() => process.stdout.write(`${summary()}\n`), options.progressMs);
  const inFlight = new Set();
  const interval = 1000 / options.rate;
  let next = performance.now();
  for (let i = 0; options.count === undefined || i < options.count; i += 1) {
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
    if (stopping) break;
    // Behind by more than a second (a slow API): start from now instead of bursting.
    next = Math.max(next + interval, performance.now() - 1000);
    while (inFlight.size >= MAX_IN_FLIGHT && !stopping) await Promise.race(inFlight);
    if (stopping) break;
    const sending = command(options).finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  }
  await Promise.all(inFlight);
  clearInterval(progress);
  process.stdout.write(`${summary()}\n`);
  return stats.failed > 0 && !stopping ? 1 : 0;
}

process.exitCode = await main();
