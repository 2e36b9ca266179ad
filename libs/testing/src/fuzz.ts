// Property-based fuzzing of a running service over its own OpenAPI document: whatever a client
// sends to a documented route, the answer is never a 5xx, and every 4xx is problem+json.
import fc from 'fast-check';

/** The parts of an OpenAPI 3 document the fuzzer reads. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation | undefined>>;
}

interface OpenApiOperation {
  parameters?: { in: 'path' | 'query' | 'header' | 'cookie'; name: string }[];
  requestBody?: { content?: Record<string, unknown> };
  responses?: Record<string, unknown>;
}

export interface FuzzOptions {
  /** The service, e.g. http://127.0.0.1:3002. */
  baseUrl: string;
  document: OpenApiDocument;
  /** Requests to try. */
  runs: number;
  /** A valid body per operation (`POST /orders`), mutated field by field; others get random JSON. */
  validBodies?: Record<string, unknown>;
  /** Headers every request carries (credentials), unless the case drops them. */
  headers?: Record<string, string>;
  /** Operations to leave out (`GET /stream` when it is fuzzed elsewhere). */
  skip?: string[];
  /** Abort a request that has not answered in this long (a documented long poll must be shorter). */
  requestTimeoutMs?: number;
  seed?: number;
}

export interface FuzzReport {
  /** Requests sent. */
  cases: number;
  /** How many answers had each status. */
  statuses: Record<number, number>;
  operations: string[];
}

interface FuzzCase {
  operation: string;
  /** 5xx statuses the operation documents (a read-your-writes 504, a dependency's 503). */
  documented5xx: number[];
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Strings a client may put anywhere: unicode, controls, huge, numeric edges, encodings, injections. */
const nasty = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.constantFrom(
      '',
      ' ',
      '\u0000',
      'a\u0000b',
      '\t',
      '..',
      '../../etc/passwd',
      '%',
      '%00',
      '%ZZ',
      '%C0%AF',
      '\uD800',
      '\uFFFF',
      'null',
      'undefined',
      'true',
      '-1',
      '0',
      '1e309',
      '-0',
      'NaN',
      '9007199254740993',
      '99999999999999999999999999',
      "' OR 1=1 --",
      '<script>',
      '{"a":',
      '[]',
      'o:',
      'bzoA',
      'bm9wZQ',
    ),
    fc.integer({ min: 1, max: 20_000 }).map((n) => 'x'.repeat(n)),
  );

/** `value` with every lone surrogate replaced by U+FFFD (what a client's URL encoder does). */
const wellFormed = (value: string): string =>
  value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

/** Ids a route accepts: a word, an id with punctuation, a UUIDv7. */
const plausibleId = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom('a', 'customer-1', '01964f3a-0000-7000-8000-000000000001'),
    fc.stringMatching(/^[a-z0-9-]{1,12}$/),
  );

/** Header values as HTTP can carry them (visible ASCII and Latin-1, no CR, LF or NUL). */
const headerValue = (): fc.Arbitrary<string> =>
  fc.oneof(
    nasty().map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '')),
    fc.constantFrom('-1', '0', '1.5', '999999999999999999999', ' 5 ', 'abc', 'x'.repeat(8000)),
  );

/** JSON a client may send: any shape, deep nesting, big numbers, wrong types. */
const anyJson = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    fc.integer({ min: 1, max: 3_000 }).map((depth) => {
      let value: unknown = 1;
      for (let i = 0; i < depth; i += 1) value = { a: value };
      return value;
    }),
    fc.constantFrom(null, 0, -1, 1e308, Number.MAX_SAFE_INTEGER + 2, 1.5, '', [], {}, true),
    nasty(),
  );

/** A valid body with one field replaced, removed or one added, at any depth. */
function mutated(valid: unknown): fc.Arbitrary<unknown> {
  const paths: (string | number)[][] = [];
  const walk = (value: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, [...path, i]));
    else if (typeof value === 'object' && value !== null)
      for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
  };
  walk(valid, []);
  return fc
    .tuple(fc.constantFrom(...paths), fc.constantFrom('replace', 'remove', 'add'), anyJson(), nasty())
    .map(([path, action, replacement, extraKey]) => {
      const copy: unknown = structuredClone(valid);
      if (path.length === 0) return action === 'replace' ? replacement : copy;
      const parent = path
        .slice(0, -1)
        .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], copy) as Record<
        string | number,
        unknown
      >;
      const last = path[path.length - 1]!;
      if (action === 'replace') parent[last] = replacement;
      else if (action === 'remove') delete parent[last];
      else if (typeof parent === 'object' && parent !== null && !Array.isArray(parent))
        parent[extraKey] = replacement;
      return copy;
    });
}

function operationsOf(document: OpenApiDocument, skip: readonly string[]) {
  const operations: { key: string; method: string; template: string; operation: OpenApiOperation }[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      const key = `${method.toUpperCase()} ${template}`;
      if (operation !== undefined && !skip.includes(key))
        operations.push({ key, method, template, operation });
    }
  }
  return operations;
}

function caseArbitrary(options: FuzzOptions): fc.Arbitrary<FuzzCase> {
  const operations = operationsOf(options.document, options.skip ?? []);
  if (operations.length === 0) throw new Error('the OpenAPI document has no operations to fuzz');
  return fc.constantFrom(...operations).chain(({ key, method, template, operation }) => {
    const parameters = operation.parameters ?? [];
    const pathNames = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    const queryNames = parameters.filter((p) => p.in === 'query').map((p) => p.name);
    const headerNames = [
      ...parameters.filter((p) => p.in === 'header').map((p) => p.name.toLowerCase()),
      'last-event-id',
      'x-correlation-id',
      'traceparent',
      'content-type',
    ];
    const valid = options.validBodies?.[key];
    const body =
      operation.requestBody === undefined && method === 'get'
        ? fc.constant(undefined)
        : fc.oneof(
            ...(valid === undefined ? [] : [mutated(valid).map((v) => JSON.stringify(v))]),
            anyJson().map((v) => JSON.stringify(v) ?? 'null'),
            nasty(),
            fc.constant(undefined),
          );
    return fc
      .record({
        // Mostly plausible path values, so the query and the headers get past path validation.
        pathValues: fc.tuple(
          ...pathNames.map(() =>
            fc.oneof({ weight: 2, arbitrary: plausibleId() }, { weight: 1, arbitrary: nasty() }),
          ),
          fc.constant(''),
        ),
        rawPath: fc.boolean(),
        query: fc.dictionary(
          fc.oneof(
            { weight: 6, arbitrary: queryNames.length > 0 ? fc.constantFrom(...queryNames) : nasty() },
            { weight: 1, arbitrary: fc.constant('unknown') },
            { weight: 1, arbitrary: nasty() },
          ),
          nasty(),
          { maxKeys: 2 },
        ),
        headers: fc.dictionary(fc.constantFrom(...headerNames), headerValue(), { maxKeys: 2 }),
        dropCredentials: fc.boolean(),
        body,
      })
      .map(({ pathValues, rawPath, query, headers, dropCredentials, body: payload }) => {
        let path = template;
        pathNames.forEach((name, i) => {
          const value = pathValues[i] ?? '';
          // Raw: as a client that does not encode would send it (only what a URL can carry).
          const text = rawPath ? value.replace(/[^!-~]/g, '') : encodeURIComponent(wellFormed(value));
          path = path.replace(`{${name}}`, text === '' ? '_' : text);
        });
        const search = new URLSearchParams(query).toString();
        return {
          operation: key,
          documented5xx: Object.keys(operation.responses ?? {})
            .map(Number)
            .filter((status) => status >= 500),
          method: method.toUpperCase(),
          path: search === '' ? path : `${path}?${search}`,
          headers: {
            ...(dropCredentials ? {} : (options.headers ?? {})),
            ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          ...(payload === undefined ? {} : { body: payload }),
        };
      });
  });
}

/** Sends one case; the answer's status and, for a 4xx, whether it is a problem+json naming it. */
async function send(
  options: FuzzOptions,
  request: FuzzCase,
): Promise<{ status: number; problem: string | undefined }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.requestTimeoutMs ?? 10_000);
  try {
    const response = await fetch(`${options.baseUrl}${request.path}`, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      signal: controller.signal,
      redirect: 'manual',
    });
    const type = response.headers.get('content-type') ?? '';
    if (type.startsWith('text/event-stream')) {
      controller.abort();
      return { status: response.status, problem: undefined };
    }
    const text = await response.text();
    if (response.status < 400) return { status: response.status, problem: undefined };
    if (!type.startsWith('application/problem+json'))
      return { status: response.status, problem: `content-type ${type}` };
    const parsed = JSON.parse(text) as { status?: unknown };
    return {
      status: response.status,
      problem: parsed.status === response.status ? undefined : `problem status ${String(parsed.status)}`,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Fuzzes every operation of `document` on the running service: `runs` requests of random and
 * boundary path values, query parameters, headers and bodies (valid ones mutated, random JSON,
 * deep nesting, garbage). Fails, with the shrunk request, on a 5xx the operation does not
 * document (a documented one, such as a read-your-writes 504, must still be problem+json),
 * an error that is not problem+json, or a request the service does not answer in time.
 */
export async function fuzzOpenApi(options: FuzzOptions): Promise<FuzzReport> {
  const statuses: Record<number, number> = {};
  let cases = 0;
  await fc.assert(
    fc.asyncProperty(caseArbitrary(options), async (request) => {
      const { status, problem } = await send(options, request).catch((error: unknown) => {
        throw new Error(
          `${request.method} ${request.path.slice(0, 300)} got no answer: ${(error as Error).message}`,
        );
      });
      cases += 1;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 500 && !request.documented5xx.includes(status))
        throw new Error(`${request.method} ${request.path.slice(0, 300)} answered ${status}`);
      if (status >= 400 && problem !== undefined) {
        throw new Error(
          `${request.method} ${request.path.slice(0, 300)} answered ${status} without a problem: ${problem}`,
        );
      }
    }),
    {
      numRuns: options.runs,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      endOnFailure: false,
    },
  );
  return {
    cases,
    statuses,
    operations: operationsOf(options.document, options.skip ?? []).map((o) => o.key),
  };
}
