// docker-compose.yml against the apps (tools/local-stack/test/compose.spec.ts lints the file and
// checks the infrastructure): every app runs in a service built from its Dockerfile, with an
// environment its config accepts, Compose-interpolated from .env.example the way the file's
// header tells users to prepare it.
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { parse } from 'yaml';
import { discoverApps, repoRoot } from '../src/apps';
import { checkComposeApps, durationMs, interpolate, unusedExampleVariables } from '../src/compose';
import { SECRET_PLACEHOLDERS } from '../src/environment';

const composeText = fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8');
const loadCompose = () =>
  parse(composeText, { merge: true }) as { services: Record<string, Record<string, unknown>> };
const example = new Map(
  Object.entries(parseEnv(fs.readFileSync(path.join(repoRoot, '.env.example'), 'utf8'))).map(([k, v]) => [
    k,
    v ?? '',
  ]),
);
/** order-processor's instances share its consumer group: `--scale order-processor=N` adds members. */
const SCALABLE = ['order-processor'];
/** .env.example, plus the step its header asks for: a signing key. */
const userEnv = new Map([...example, ['SIGNING_KEY', SECRET_PLACEHOLDERS['SIGNING_KEY']!]]);

describe('docker-compose.yml and the apps', () => {
  it('runs every app, built from its Dockerfile, with an environment its config accepts', () => {
    expect(checkComposeApps(loadCompose(), discoverApps(), userEnv, SCALABLE)).toEqual([]);
  }, 60_000);

  it('needs the signing key that .env.example leaves empty', () => {
    expect(example.get('SIGNING_KEY')).toBe('');
    const problems = checkComposeApps(loadCompose(), discoverApps(), example, SCALABLE);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^compose service order-api: order-api refuses its environment: SIGNING_KEY/),
      ]),
    );
  }, 60_000);

  it('uses every variable .env.example offers', () => {
    expect(unusedExampleVariables(composeText, example)).toEqual([]);
    expect(
      unusedExampleVariables(
        '${USED:-x}',
        new Map([
          ['USED', ''],
          ['UNUSED', ''],
        ]),
      ),
    ).toEqual(['UNUSED']);
  });

  it('reports a missing service, an unknown variable, a short grace period and a fixed processor port', () => {
    const doc = loadCompose();
    delete doc.services['order-projection'];
    const processor = doc.services['order-processor']!;
    processor['environment'] = { ...(processor['environment'] as object), PROCESSOR_THREADS: '4' };
    processor['stop_grace_period'] = '10s';
    processor['ports'] = ['127.0.0.1:3001:3001'];
    delete (doc.services['order-api']!['depends_on'] as Record<string, unknown>)['init'];
    expect(checkComposeApps(doc, discoverApps(), userEnv, SCALABLE)).toEqual([
      'compose service order-api: must wait for the provisioning service (depends_on condition service_completed_successfully)',
      "compose service order-processor: sets PROCESSOR_THREADS, which order-processor's config does not read",
      "compose service order-processor: stop_grace_period must be longer than order-processor's 20 s shutdown deadline",
      'compose service order-processor: a fixed host port prevents --scale',
      'order-projection: no compose service runs tideline/order-projection',
    ]);
  }, 60_000);
});

describe('Compose interpolation and durations', () => {
  const vars = new Map([
    ['SET', 'value'],
    ['EMPTY', ''],
  ]);
  it.each([
    ['${SET}', 'value'],
    ['${UNSET}', ''],
    ['${UNSET:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${EMPTY-fallback}', ''],
    ['a$$b', 'a$b'],
    ['tideline/x:${SET:-1}', 'tideline/x:value'],
  ])('%s → %j', (text, value) => {
    expect(interpolate(text, vars).value).toBe(value);
  });

  it('reports a required variable that is unset', () => {
    expect(interpolate('${UNSET:?set it in .env}', vars).missing).toEqual(['UNSET (set it in .env)']);
  });

  it.each([
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['thirty', undefined],
  ])('%s is %j ms', (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });
});
