// The apps' Dockerfiles, checked offline (CI has no Docker engine): Docker's syntax
// (dockerfile-utils) and the image recipe (checkDockerfile). A broken fixture shows both fail.
import fs from 'node:fs';
import path from 'node:path';
import { discoverApps, repoRoot, tryLoad, type App } from '../src/apps';
import { checkDockerfile, checkDockerignore, type DockerfileExpectations } from '../src/dockerfiles';
import { SECRET_PLACEHOLDERS } from '../src/environment';

const rootManifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};
const nodeVersion = rootManifest.devDependencies['node']!;

function expectationsFor(app: App): DockerfileExpectations {
  if (app.kind === 'cli') {
    const manifest = JSON.parse(
      fs.readFileSync(path.join(repoRoot, 'apps', app.name, 'package.json'), 'utf8'),
    ) as {
      bin: Record<string, string>;
    };
    return { nodeVersion, command: Object.keys(manifest.bin)[0]! };
  }
  return { nodeVersion, port: portDefault(app) };
}

/** PORT's default: the app's config on an environment that meets its other requirements. */
function portDefault(app: App): number | undefined {
  const { SIGNING_KEY_ID, SIGNING_KEY } = SECRET_PLACEHOLDERS;
  const result = tryLoad(app, { SIGNING_KEY_ID, SIGNING_KEY, AUTH_DISABLED: 'true' });
  return 'config' in result && typeof result.config['PORT'] === 'number' ? result.config['PORT'] : undefined;
}

describe('Dockerfiles', () => {
  it('the root package.json pins the Node version the images run', () => {
    expect(nodeVersion).toMatch(/^24\.\d+\.\d+$/);
  });

  describe.each(discoverApps().map((app) => [app.name, app] as const))('apps/%s/Dockerfile', (name, app) => {
    const file = path.join(repoRoot, 'apps', name, 'Dockerfile');

    it('exists', () => {
      expect(fs.existsSync(file)).toBe(true);
    });

    it('follows the image recipe', () => {
      const expectations = expectationsFor(app);
      // A service's port comes from its config; the CLI has none.
      expect(typeof expectations.port).toBe(app.kind === 'service' ? 'number' : 'undefined');
      expect(checkDockerfile(fs.readFileSync(file, 'utf8'), app, expectations)).toEqual([]);
    }, 30_000);
  });

  it('.dockerignore keeps dependencies, builds, git and local secrets out of the build context', () => {
    expect(checkDockerignore(fs.readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8'))).toEqual([]);
  });

  it('reports every mistake of the broken fixture', () => {
    const app = discoverApps().find((a) => a.name === 'order-api')!;
    const problems = checkDockerfile(
      fs.readFileSync(path.join(__dirname, 'fixtures', 'broken.Dockerfile'), 'utf8'),
      app,
      { nodeVersion, port: 3000 },
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^line 6: .*HEALTHCHEK/i),
        expect.stringMatching(/^line 3: .*WORKDIR.*absolute/i),
        'must be multi-stage: build in one stage, run from a clean one',
        `line 2: FROM node:latest should be node:${nodeVersion}-<debian>-slim (the Node of package.json)`,
        'the build stage must run `node tools/deploy/build-app.mjs order-api /out`, the recipe tools/deploy tests without Docker',
        'the runtime stage must switch to a numeric non-root USER (Kubernetes runAsNonRoot checks the number)',
        'must set HOST=0.0.0.0: the apps listen on 127.0.0.1 by default',
        'must have HEALTHCHECK CMD ["tideline-healthcheck", "/healthz"] (liveness)',
        'must start with CMD ["node", "dist/main.js"] (exec form: the app gets SIGTERM itself)',
      ]),
    );
  });

  it('reports a .dockerignore that lets node_modules and .env in', () => {
    expect(checkDockerignore('dist\n.git\n')).toEqual([
      '.dockerignore must exclude **/node_modules',
      '.dockerignore must exclude **/dist',
      '.dockerignore must exclude .env',
      '.dockerignore must exclude .stack',
    ]);
  });
});
