// The generators on a virtual tree holding the real workspace's shared files: what each writes,
// and the one-line refusals of bad or taken names. test/generators.int.spec.ts runs them for real.
import fs from 'node:fs';
import path from 'node:path';
import { workspaceRoot, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { parse } from 'yaml';
import { eventGenerator } from './event/generator.ts';
import { projectionGenerator } from './projection/generator.ts';
import { serviceGenerator } from './service/generator.ts';

const SHARED = [
  'schemas/catalog.yaml',
  'docker-compose.yml',
  'eslint.config.mjs',
  'package-lock.json',
  'k8s/base/kustomization.yaml',
  'k8s/overlays/dev/kustomization.yaml',
  'k8s/overlays/prod/kustomization.yaml',
  'k8s/overlays/prod/keda.yaml',
  'k8s/base/network-policy.yaml',
  'k8s/components/strimzi-users/kustomization.yaml',
  'tools/scripts/services.json',
  'libs/read-models/src/index.ts',
  'libs/read-models/README.md',
];

function workspaceTree(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  for (const file of SHARED) tree.write(file, fs.readFileSync(path.join(workspaceRoot, file)));
  for (const app of fs.readdirSync(path.join(workspaceRoot, 'apps'))) {
    const config = path.join(workspaceRoot, 'apps', app, 'src', 'config.ts');
    if (fs.existsSync(config)) tree.write(`apps/${app}/src/config.ts`, fs.readFileSync(config));
  }
  return tree;
}

const startListOf = (tree: Tree) =>
  (JSON.parse(tree.read('tools/scripts/services.json', 'utf-8')!) as { services: unknown[] }).services;

const catalogOf = (tree: Tree) =>
  (parse(tree.read('schemas/catalog.yaml', 'utf-8')!) as { topics: Record<string, unknown>[] }).topics;

/** The message of the error `run` rejects with. */
async function refusal(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('event generator', () => {
  it('writes a documented Avro schema and a catalog entry like the existing ones', async () => {
    const tree = workspaceTree();
    await eventGenerator(tree, { domain: 'billing', name: 'InvoiceIssued', skipFollowers: true });
    const schema = JSON.parse(tree.read('schemas/billing/InvoiceIssued.avsc', 'utf-8')!) as {
      name: string;
      namespace: string;
      doc: string;
      fields: { name: string; doc: string }[];
    };
    expect(schema).toMatchObject({
      type: 'record',
      name: 'InvoiceIssued',
      namespace: 'dev.tideline.billing',
    });
    expect(schema.fields.map((f) => [f.name, typeof f.doc])).toEqual([
      ['invoiceId', 'string'],
      ['occurredAt', 'string'],
    ]);
    expect(catalogOf(tree).at(-1)).toEqual({
      name: 'billing.invoice-issued.v1',
      key: 'invoiceId',
      value: 'billing/InvoiceIssued.avsc',
      partitions: 6,
      cleanup: 'delete',
      retention: '30d',
      owner: 'billing-api',
      consumers: [],
    });
    // The comments and entries before it are kept as they were.
    const before = fs.readFileSync(path.join(workspaceRoot, 'schemas/catalog.yaml'), 'utf8');
    expect(tree.read('schemas/catalog.yaml', 'utf-8')!.startsWith(before.trimEnd())).toBe(true);
  });

  it.each([
    [
      { domain: 'billing', name: 'invoiceIssued' },
      'event "invoiceIssued" must be PascalCase (e.g. InvoiceIssued)',
    ],
    [
      { domain: 'Billing', name: 'InvoiceIssued' },
      expect.stringMatching(/^domain "Billing" must be kebab-case/),
    ],
    [
      { domain: 'orders', name: 'OrderPlaced' },
      'topic orders.order-placed.v1 is already in schemas/catalog.yaml',
    ],
  ])('refuses %j with one line', async (options, message) => {
    const tree = workspaceTree();
    const text = await refusal(() => eventGenerator(tree, { ...options, skipFollowers: true }));
    expect(text).toEqual(message);
    expect(text).not.toContain('\n');
    expect(tree.exists('schemas/billing')).toBe(false);
  });
});

describe('service generator', () => {
  let tree: Tree;
  beforeEach(async () => {
    tree = workspaceTree();
    await eventGenerator(tree, { domain: 'billing', name: 'InvoiceIssued', skipFollowers: true });
  });

  it('makes a producer app shaped like the others, with its deployment wiring', async () => {
    await serviceGenerator(tree, { name: 'billing-api', kind: 'producer', skipFollowers: true });
    for (const file of [
      'project.json',
      'package.json',
      'Dockerfile',
      'README.md',
      'src/config.ts',
      'src/main.ts',
      'src/app.ts',
      'src/app.spec.ts',
      'e2e/billing-api.spec.ts',
    ])
      expect(tree.exists(`apps/billing-api/${file}`)).toBe(true);
    expect(JSON.parse(tree.read('apps/billing-api/project.json', 'utf-8')!)).toMatchObject({
      name: 'billing-api',
      tags: ['scope:billing', 'type:app'],
      targets: { build: {}, typecheck: {}, lint: {}, test: {}, 'test-int': {} },
    });
    expect(tree.read('apps/billing-api/Dockerfile', 'utf-8')).toContain(
      'node tools/deploy/build-app.mjs billing-api /out',
    );
    expect(tree.read('apps/billing-api/src/config.ts', 'utf-8')).toContain('PORT: port(3004)');
    expect(tree.read('apps/billing-api/README.md', 'utf-8')).toMatch(/\| — +\| `billing.invoice-issued.v1`/);
    expect(tree.read('docker-compose.yml', 'utf-8')).toContain(
      '  billing-api:\n    image: tideline/billing-api:',
    );
    expect(tree.read('k8s/base/kustomization.yaml', 'utf-8')).toContain('  - billing-api/deployment.yaml\n');
    expect(tree.exists('k8s/base/billing-api/deployment.yaml')).toBe(true);
    expect(tree.read('k8s/overlays/prod/kustomization.yaml', 'utf-8')).toContain(
      '  - name: tideline/billing-api\n',
    );
    expect(tree.read('k8s/overlays/prod/keda.yaml', 'utf-8')).not.toContain('billing-api');
    const lock = JSON.parse(tree.read('package-lock.json', 'utf-8')!) as {
      packages: Record<string, unknown>;
    };
    expect(lock.packages['node_modules/@tideline/billing-api']).toEqual({
      resolved: 'apps/billing-api',
      link: true,
    });
    expect(tree.read('eslint.config.mjs', 'utf-8')).toContain("sourceTag: 'scope:billing'");
    expect(startListOf(tree)).toEqual([{ name: 'billing-api', port: 3004, database: false }]);
  });

  it('makes a consumer: its group among the topic consumers, and a KEDA ScaledObject', async () => {
    await serviceGenerator(tree, {
      name: 'billing-processor',
      kind: 'consumer',
      consumes: 'billing.invoice-issued.v1',
      skipFollowers: true,
    });
    expect(catalogOf(tree).at(-1)).toMatchObject({ consumers: ['billing-processor'] });
    expect(tree.read('apps/billing-processor/src/consumer.ts', 'utf-8')).toContain(
      'subscribe(invoiceIssuedTopic',
    );
    const keda = tree.read('k8s/overlays/prod/keda.yaml', 'utf-8')!;
    expect(keda).toContain('consumerGroup: billing-processor\n        topic: billing.invoice-issued.v1');
  });

  it.each([
    [
      { name: 'BillingApi', kind: 'producer' },
      expect.stringMatching(/^service "BillingApi" must be kebab-case/),
    ],
    [{ name: 'order-api', kind: 'producer' }, 'apps/order-api already exists'],
    [
      { name: 'billing-api', kind: 'projector' },
      '--kind "projector" must be producer, consumer or projection',
    ],
    [
      { name: 'billing-invoices', kind: 'projection', consumes: 'billing.invoice-issued.v1' },
      '--kind projection comes with its definition: nx g @tideline/nx:projection <name> --consumes <catalog topic>',
    ],
    [
      { name: 'billing-mailer', kind: 'producer' },
      'billing-mailer owns no topic in schemas/catalog.yaml: first nx g @tideline/nx:event <domain> <EventName> --owner billing-mailer',
    ],
    [{ name: 'billing-processor', kind: 'consumer' }, '--kind consumer needs --consumes <catalog topic>'],
    [
      { name: 'billing-processor', kind: 'consumer', consumes: 'billing.nothing.v1' },
      'topic "billing.nothing.v1" is not in schemas/catalog.yaml',
    ],
  ])('refuses %j with one line, writing nothing', async (options, message) => {
    tree.write('apps/order-api/project.json', '{}');
    const text = await refusal(() =>
      serviceGenerator(tree, { ...(options as { name: string; kind: 'producer' }), skipFollowers: true }),
    );
    expect(text).toEqual(message);
    expect(text).not.toContain('\n');
    expect(tree.read('docker-compose.yml', 'utf-8')).not.toContain('billing-');
  });
});

describe('projection generator', () => {
  let tree: Tree;
  beforeEach(async () => {
    tree = workspaceTree();
    await eventGenerator(tree, { domain: 'billing', name: 'InvoiceIssued', skipFollowers: true });
  });

  it('writes a definition in libs/read-models, registers it, and makes the service that serves it', async () => {
    await projectionGenerator(tree, {
      name: 'invoices',
      consumes: 'billing.invoice-issued.v1',
      skipFollowers: true,
    });
    for (const file of ['definition.ts', 'fold.ts', 'fold.spec.ts', 'queries.ts', 'index.ts'])
      expect(tree.exists(`libs/read-models/src/invoices/${file}`)).toBe(true);
    const definition = tree.read('libs/read-models/src/invoices/definition.ts', 'utf-8')!;
    expect(definition).toContain("export const INVOICES_SCHEMA = 'invoices_projection';");
    expect(definition).toContain('invoice_id text PRIMARY KEY');
    expect(definition).toContain('const source = options.topic ?? invoiceIssuedTopic;');
    // Registered where tideline projection status|rebuild finds the others.
    const index = tree.read('libs/read-models/src/index.ts', 'utf-8')!;
    expect(index).toContain("import { invoicesProjection } from './invoices';\n");
    expect(index).toContain("export * from './invoices';\n");
    expect(index).toMatch(
      /'sales-projection': salesProjection\(\),\n {2}'invoices-projection': invoicesProjection\(\),\n\};/,
    );
    expect(tree.read('libs/read-models/README.md', 'utf-8')).toContain('## `invoices/`: invoices');

    for (const file of ['src/config.ts', 'src/projection.ts', 'src/app.ts', 'src/app.spec.ts', 'src/main.ts'])
      expect(tree.exists(`apps/invoices-projection/${file}`)).toBe(true);
    expect(tree.exists('apps/invoices-projection/e2e/invoices-projection.spec.ts')).toBe(true);
    expect(JSON.parse(tree.read('apps/invoices-projection/package.json', 'utf-8')!)).toMatchObject({
      dependencies: { '@tideline/projections': '*', '@tideline/read-models': '*' },
    });
    expect(tree.read('apps/invoices-projection/src/projection.ts', 'utf-8')).toContain(
      'invoicesProjection({',
    );
    expect(catalogOf(tree).at(-1)).toMatchObject({ consumers: ['invoices-projection'] });
    const compose = tree.read('docker-compose.yml', 'utf-8')!;
    const service = compose.slice(compose.indexOf('  invoices-projection:\n'));
    expect(service).toMatch(/^ {6}DATABASE_URL: postgres:\/\/postgres@postgres:5432\/tideline$/m);
    expect(tree.read('k8s/base/invoices-projection/deployment.yaml', 'utf-8')).toContain(
      'secretKeyRef: { name: tideline-database, key: DATABASE_URL }',
    );
    expect(tree.read('k8s/overlays/prod/keda.yaml', 'utf-8')).toContain('consumerGroup: invoices-projection');
    expect(tree.read('k8s/base/network-policy.yaml', 'utf-8')).toMatch(
      /values: \[[^\]]*invoices-projection\]/,
    );
    expect(startListOf(tree)).toEqual([{ name: 'invoices-projection', port: 3004, database: true }]);
  });

  it('gives each generated service its own port in the start list', async () => {
    await serviceGenerator(tree, { name: 'billing-api', kind: 'producer', skipFollowers: true });
    await projectionGenerator(tree, {
      name: 'invoices',
      consumes: 'billing.invoice-issued.v1',
      skipFollowers: true,
    });
    expect(startListOf(tree)).toEqual([
      { name: 'billing-api', port: 3004, database: false },
      { name: 'invoices-projection', port: 3005, database: true },
    ]);
    // Past the second API ingress edit (prettier wraps the list after the first one).
    expect(tree.read('k8s/base/network-policy.yaml', 'utf-8')).toMatch(
      /values: \[[^\]]*billing-api,\s*invoices-projection\]/,
    );
  });

  it.each([
    [
      { name: 'Invoices', consumes: 'billing.invoice-issued.v1' },
      expect.stringMatching(/^projection "Invoices" must be kebab-case/),
    ],
    [{ name: 'invoices' }, 'a projection needs --consumes <catalog topic>'],
    [
      { name: 'invoices', consumes: 'billing.nothing.v1' },
      'topic "billing.nothing.v1" is not in schemas/catalog.yaml',
    ],
    [{ name: 'sales', consumes: 'billing.invoice-issued.v1' }, 'libs/read-models/src/sales already exists'],
    [{ name: 'order', consumes: 'billing.invoice-issued.v1' }, 'apps/order-projection already exists'],
  ])('refuses %j with one line, writing nothing', async (options, message) => {
    tree.write('libs/read-models/src/sales/index.ts', '');
    tree.write('apps/order-projection/project.json', '{}');
    const text = await refusal(() => projectionGenerator(tree, { ...options, skipFollowers: true }));
    expect(text).toEqual(message);
    expect(text).not.toContain('\n');
    expect(tree.read('docker-compose.yml', 'utf-8')).not.toContain(
      'projection:\n    image: tideline/invoices',
    );
    expect(tree.exists('libs/read-models/src/invoices')).toBe(false);
  });
});
