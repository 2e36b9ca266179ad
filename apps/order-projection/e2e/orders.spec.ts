// Acceptance: order-api, two order-processors and order-projection as separate OS processes
// against the real Kafka, registry and PostgreSQL.
import { eventually, openSseClient, uniqueName } from '@tideline/testing';
import { WebSocket } from 'ws';
import { changes, json, OrderStack, type OrderDocument } from './support';

let stack: OrderStack;
const PER_CLIENT = 8;

beforeAll(async () => {
  // A small per-client bound of live connections, so one test can reach it.
  stack = await OrderStack.start({
    processors: 2,
    env: { STREAM_MAX_CONNECTIONS_PER_CLIENT: String(PER_CLIENT) },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

const sku = (name: string) => stack.sku(name);
const putProduct = (name: string, priceCents: number, active = true) =>
  stack.putProduct(name, priceCents, active);
const placeOrder = (customerId: string, items: [string, number][], headers: Record<string, string> = {}) =>
  stack.placeOrder(customerId, items, headers);
const getOrder = (orderId: string, query = '') => stack.getOrder(orderId, query);
const settled = (orderId: string) => stack.settled(orderId);

it('decides orders with the right reasons and timelines, streams every change, and summarizes the customer', async () => {
  await putProduct('apple', 150);
  await putProduct('pear', 300, false);
  await putProduct('gold', 90_000);
  const customer = `${stack.run}-alice`;
  const live = await openSseClient(`${stack.projection.url}/stream?customerId=${customer}`);
  expect(live.status).toBe(200);
  expect(live.headers.get('content-type')).toMatch(/^text\/event-stream/);

  const valid = await placeOrder(customer, [['apple', 2]]);
  // Read-your-writes: answers once the OrderPlaced the API accepted is applied.
  const readBack = await getOrder(valid.orderId, `?waitFor=${valid.eventId}&timeout=10000`);
  expect(readBack.status).toBe(200);
  expect(readBack.body.timeline.map((t) => t.eventId)).toContain(valid.eventId);

  const unknown = await placeOrder(customer, [['ghost', 1]]);
  const inactive = await placeOrder(customer, [
    ['pear', 1],
    ['apple', 1],
  ]);
  const overLimit = await placeOrder(customer, [['gold', 2]]);

  const decided = {
    valid: await settled(valid.orderId),
    unknown: await settled(unknown.orderId),
    inactive: await settled(inactive.orderId),
    overLimit: await settled(overLimit.orderId),
  };
  expect(decided.valid).toMatchObject({ status: 'confirmed', totalCents: 300, customerId: customer });
  expect(decided.valid.timeline.map((t) => t.eventType)).toEqual(['OrderPlaced', 'OrderConfirmed']);
  expect(decided.unknown.status).toBe('rejected');
  expect(decided.unknown.reasons).toEqual([
    expect.objectContaining({ code: 'UNKNOWN_PRODUCT', sku: sku('ghost') }),
  ]);
  expect(decided.inactive.reasons).toEqual([
    expect.objectContaining({ code: 'PRODUCT_INACTIVE', sku: sku('pear') }),
  ]);
  expect(decided.overLimit.reasons).toEqual([expect.objectContaining({ code: 'TOTAL_OVER_LIMIT' })]);
  for (const order of Object.values(decided)) {
    expect(order.timeline).toHaveLength(2);
    expect(order.timeline[0]!.eventType).toBe('OrderPlaced');
  }

  // The customer's stream carried each order's two changes, ids increasing.
  await eventually('8 changes on the customer stream', () =>
    changes(live.events).length >= 8 ? true : undefined,
  );
  const streamed = changes(live.events);
  expect(streamed).toHaveLength(8);
  expect(streamed.map((c) => c.id)).toEqual([...streamed.map((c) => c.id)].sort((a, b) => a - b));
  for (const [name, order] of Object.entries(decided)) {
    // Placed and the decision travel on different topics and may be applied in either order:
    // the first change is `pending`, or already the decision when that was applied first.
    const own = streamed.filter((c) => c.orderId === order.orderId);
    expect([name, own.map((c) => c.status).at(-1)]).toEqual([name, order.status]);
    expect([name, [...own.map((c) => c.eventType)].sort()]).toEqual([
      name,
      ['OrderPlaced', order.status === 'confirmed' ? 'OrderConfirmed' : 'OrderRejected'].sort(),
    ]);
    expect(['pending', order.status]).toContain(own[0]!.status);
  }
  live.close();

  const summary = await fetch(`${stack.projection.url}/customers/${customer}/summary`).then((r) =>
    json<{ counts: Record<string, number>; confirmedSpendCents: Record<string, number> }>(r),
  );
  expect(summary.counts).toEqual({ pending: 0, confirmed: 1, cancelled: 0, rejected: 3 });
  expect(summary.confirmedSpendCents).toEqual({ EUR: 300 });

  const page = await fetch(`${stack.projection.url}/customers/${customer}/orders?limit=3`).then((r) =>
    json<{ items: OrderDocument[]; nextCursor: string | null }>(r),
  );
  expect(page.items.map((o) => o.orderId)).toEqual([overLimit.orderId, inactive.orderId, unknown.orderId]);
  const rest = await fetch(
    `${stack.projection.url}/customers/${customer}/orders?limit=3&cursor=${page.nextCursor}`,
  ).then((r) => json<{ items: OrderDocument[]; nextCursor: string | null }>(r));
  expect(rest).toEqual({ items: [expect.objectContaining({ orderId: valid.orderId })], nextCursor: null });

  // An order's own stream starts with its whole history.
  const history = await openSseClient(`${stack.projection.url}/orders/${valid.orderId}/stream`);
  await eventually('the order history', () => (changes(history.events).length >= 2 ? true : undefined));
  expect(changes(history.events).map((c) => c.eventType)).toEqual(['OrderPlaced', 'OrderConfirmed']);
  history.close();
}, 90_000);

it('resumes an SSE stream from Last-Event-ID with exactly the changes missed', async () => {
  await putProduct('plum', 100);
  const customer = `${stack.run}-bob`;
  const witness = await openSseClient(`${stack.projection.url}/stream?customerId=${customer}`);
  const reader = await openSseClient(`${stack.projection.url}/stream?customerId=${customer}`);
  const first = await placeOrder(customer, [['plum', 1]]);
  await settled(first.orderId);
  await eventually('both changes of the first order', () =>
    changes(reader.events).length >= 2 ? true : undefined,
  );
  reader.close();
  const lastSeen = changes(reader.events).at(-1)!.id;

  // Missed while disconnected.
  const missed = [await placeOrder(customer, [['plum', 2]]), await placeOrder(customer, [['plum', 3]])];
  for (const order of missed) await settled(order.orderId);
  await eventually('the witness sees all six changes', () =>
    changes(witness.events).length >= 6 ? true : undefined,
  );

  const resumed = await openSseClient(`${stack.projection.url}/stream?customerId=${customer}`, {
    'last-event-id': String(lastSeen),
  });
  await eventually('the resumed stream catches up', () =>
    changes(resumed.events).length >= 4 ? true : undefined,
  );
  const third = await placeOrder(customer, [['plum', 4]]);
  await settled(third.orderId);
  await eventually('the resumed stream gets the live change', () =>
    changes(resumed.events).length >= 6 && changes(witness.events).length >= 8 ? true : undefined,
  );
  // Exactly what the always-connected witness saw after lastSeen: no gap, no repeat.
  expect(changes(resumed.events)).toEqual(changes(witness.events).filter((c) => c.id > lastSeen));
  resumed.close();
  witness.close();

  // A resume point that is not an event id is a 400 naming the header.
  const bad = await fetch(`${stack.projection.url}/stream?customerId=${customer}`, {
    headers: { 'last-event-id': 'abc' },
  });
  expect(bad.status).toBe(400);
  expect(bad.headers.get('content-type')).toMatch(/application\/problem\+json/);
  expect(await bad.json()).toMatchObject({ errors: [{ field: 'headers.last-event-id' }] });
}, 90_000);

it("opens streams for clients without an Origin and for the projection's own pages, and refuses other origins with 403", async () => {
  const evil = 'http://evil.example';
  for (const path of ['/stream', '/orders/some-order/stream']) {
    const refused = await fetch(`${stack.projection.url}${path}`, { headers: { origin: evil } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(await refused.json()).toMatchObject({
      status: 403,
      detail: `origin "${evil}" is not this service's and not in its allowed origins`,
    });
  }
  const own = new AbortController();
  const opened = await fetch(`${stack.projection.url}/stream`, {
    headers: { origin: stack.projection.url },
    signal: own.signal,
  });
  expect(opened.status).toBe(200);
  expect(opened.headers.get('content-type')).toMatch(/text\/event-stream/);
  expect(opened.headers.get('access-control-allow-origin')).toBe(stack.projection.url);
  own.abort();

  const upgrade = (origin: string) =>
    new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${stack.projection.url.replace('http', 'ws')}/ws`, { origin });
      socket.once('open', () => {
        socket.close();
        resolve(101);
      });
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.once('error', reject);
    });
  expect(await upgrade(evil)).toBe(403);
  expect(await upgrade(stack.projection.url)).toBe(101);
});

it('holds at most STREAM_MAX_CONNECTIONS_PER_CLIENT live connections of one client: more get 429 with Retry-After', async () => {
  const connections = async () =>
    (await json<{ streams: { connections: number } }>(await fetch(`${stack.projection.url}/stats`))).streams
      .connections;
  await eventually(
    "the earlier tests' streams to close",
    async () => (await connections()) === 0 || undefined,
  );
  const open: AbortController[] = [];
  try {
    for (let i = 0; i < PER_CLIENT; i += 1) {
      const controller = new AbortController();
      open.push(controller);
      const response = await fetch(`${stack.projection.url}/stream`, { signal: controller.signal });
      expect(response.status).toBe(200);
    }
    expect(await connections()).toBe(PER_CLIENT);
    const refused = await fetch(`${stack.projection.url}/stream`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toMatchObject({ status: 429, title: 'Too Many Requests' });
    const upgrade = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${stack.projection.url.replace('http', 'ws')}/ws`);
      socket.once('open', () => {
        socket.close();
        resolve(101);
      });
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.once('error', reject);
    });
    expect(upgrade).toBe(429);
    // One closes: the client may open another.
    open.shift()?.abort();
    await eventually(
      'the closed stream to free its slot',
      async () => (await connections()) === PER_CLIENT - 1 || undefined,
    );
    const again = new AbortController();
    open.push(again);
    expect((await fetch(`${stack.projection.url}/stream`, { signal: again.signal })).status).toBe(200);
  } finally {
    for (const controller of open) controller.abort();
  }
  await eventually('every stream to close', async () => (await connections()) === 0 || undefined);
});

it('creates one order for a POST retried with the same Idempotency-Key', async () => {
  await putProduct('kiwi', 100);
  const customer = `${stack.run}-carol`;
  const idempotencyKey = uniqueName('idem');
  const first = await placeOrder(customer, [['kiwi', 1]], { 'idempotency-key': idempotencyKey });
  const again = await placeOrder(customer, [['kiwi', 1]], { 'idempotency-key': idempotencyKey });
  expect(again).toEqual(first);
  await settled(first.orderId);
  // Another order after it proves the projection got past anything the retry might have published.
  const marker = await placeOrder(customer, [['kiwi', 2]]);
  await settled(marker.orderId);
  const summary = await fetch(`${stack.projection.url}/customers/${customer}/summary`).then((r) =>
    json<{ counts: Record<string, number> }>(r),
  );
  expect(summary.counts.confirmed).toBe(2);
}, 60_000);

it('answers bad queries with problem+json naming the field, unknown orders with 404, slow writes with 504', async () => {
  const badLimit = await fetch(`${stack.projection.url}/customers/x/orders?limit=500`);
  expect(badLimit.status).toBe(400);
  expect(await badLimit.json()).toMatchObject({ errors: [{ field: 'querystring.limit' }] });
  const badCursor = await fetch(`${stack.projection.url}/customers/x/orders?cursor=bm9wZQ`);
  expect(badCursor.status).toBe(400);
  expect(await badCursor.json()).toMatchObject({ errors: [{ field: 'querystring.cursor' }] });
  // A well-formed cursor around an id no order can have ("o:" and a NUL): still the caller's fault.
  const forgedCursor = await fetch(`${stack.projection.url}/customers/x/orders?cursor=bzoA`);
  expect(forgedCursor.status).toBe(400);
  expect(await forgedCursor.json()).toMatchObject({ errors: [{ field: 'querystring.cursor' }] });
  const missing = await fetch(`${stack.projection.url}/orders/no-such-order`);
  expect(missing.status).toBe(404);
  expect(missing.headers.get('content-type')).toMatch(/application\/problem\+json/);
  const timedOut = await fetch(
    `${stack.projection.url}/orders/no-such-order?waitFor=never-published&timeout=300`,
  );
  expect(timedOut.status).toBe(504);
  const stats = await fetch(`${stack.projection.url}/stats`).then((r) =>
    json<{ orders: number; lag: { total: number } | null; consumer: { state: string } }>(r),
  );
  expect(stats.consumer.state).toBe('running');
  expect(stats.lag).not.toBeNull();
});

it('shows a cancellation, moves the customer summary, and streams it over WebSocket', async () => {
  await putProduct('fig', 250);
  const customer = `${stack.run}-dave`;
  const placed = await placeOrder(customer, [['fig', 2]]);
  expect((await settled(placed.orderId)).status).toBe('confirmed');

  const socket = new WebSocket(`${stack.projection.url.replace('http', 'ws')}/ws`);
  const messages: { type: string; id?: number; subscription?: string; data?: { status: string } }[] = [];
  socket.on('message', (data: Buffer) =>
    messages.push(JSON.parse(data.toString()) as (typeof messages)[number]),
  );
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'subscribe', id: 'o', feed: `order:${placed.orderId}` }));
  socket.send(JSON.stringify({ type: 'subscribe', id: 'bad', feed: 'nonsense' }));
  await eventually('the order history over WebSocket', () =>
    messages.filter((m) => m.type === 'change').length >= 2 ? true : undefined,
  );
  expect(messages).toContainEqual(expect.objectContaining({ type: 'error', id: 'bad', field: 'feed' }));

  const cancel = await fetch(`${stack.api.url}/orders/${placed.orderId}/cancel`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'changed my mind' }),
  });
  expect(cancel.status).toBe(202);
  const { eventId } = (await cancel.json()) as { eventId: string };
  const order = await getOrder(placed.orderId, `?waitFor=${eventId}&timeout=10000`);
  expect(order.body).toMatchObject({ status: 'cancelled', cancelReason: 'changed my mind' });
  expect(order.body.timeline.map((t) => t.eventType)).toEqual([
    'OrderPlaced',
    'OrderConfirmed',
    'OrderCancelled',
  ]);

  await eventually('the cancellation over WebSocket', () =>
    messages.filter((m) => m.type === 'change').length >= 3 ? true : undefined,
  );
  const changed = messages.filter((m) => m.type === 'change');
  expect(changed.map((m) => m.data?.status)).toEqual(['pending', 'confirmed', 'cancelled']);
  expect(changed.every((m) => m.subscription === 'o')).toBe(true);
  socket.close();

  const summary = await fetch(`${stack.projection.url}/customers/${customer}/summary`).then((r) =>
    json<{ counts: Record<string, number>; confirmedSpendCents: Record<string, number> }>(r),
  );
  expect(summary).toMatchObject({
    counts: { pending: 0, confirmed: 0, cancelled: 1, rejected: 0 },
    confirmedSpendCents: {},
  });
}, 60_000);
