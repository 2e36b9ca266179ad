// order-projection fuzzed over its own OpenAPI document, as a real process on the real stack:
// whatever a client sends to a documented route is answered with a 2xx or a problem+json 4xx.
import { fuzzOpenApi, type OpenApiDocument } from '@tideline/testing';
import { json, OrderStack } from './support';

let stack: OrderStack;

beforeAll(async () => {
  // Short read-your-writes waits: a fuzzed `timeout` answers within the request deadline.
  stack = await OrderStack.start({ processors: 1, env: { MAX_WAIT_MS: '300' } });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

it('answers every request a client can make with a 2xx or a problem+json 4xx, never a 5xx', async () => {
  const customer = `${stack.run}-fuzz`;
  await stack.putProduct('fuzz', 100);
  await stack.placeOrder(customer, [['fuzz', 1]]);
  const document = await json<OpenApiDocument>(await fetch(`${stack.projection.url}/docs/json`));
  const report = await fuzzOpenApi({
    baseUrl: stack.projection.url,
    document,
    runs: 1_000,
    requestTimeoutMs: 5_000,
  });
  expect(report.operations).toEqual(
    expect.arrayContaining([
      'GET /orders/{id}',
      'GET /customers/{id}/orders',
      'GET /customers/{id}/summary',
      'GET /orders/{id}/stream',
      'GET /stream',
    ]),
  );
  expect(report.cases).toBe(1_000);
  expect(report.statuses[200]).toBeGreaterThan(0);
  expect(report.statuses[400]).toBeGreaterThan(0);
  // Still serving: the fuzzing left it healthy.
  expect((await fetch(`${stack.projection.url}/readyz`)).status).toBe(200);
}, 180_000);
