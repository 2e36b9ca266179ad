#!/usr/bin/env node
// The image recipe: builds one app with nx and writes it, pruned to its production
// dependencies, into an output directory that runs on its own (`node dist/main.js`).
// Every Dockerfile's build stage runs exactly this script, and
// tools/deploy/test/build-app.int.spec.ts runs it here and starts the result, so the recipe
// is exercised without Docker.
//
//   node tools/deploy/build-app.mjs <app> <out-dir>
//
// <out-dir> gets:
//   package.json        the app's manifest with exactly the npm packages its code (and the
//                       workspace libraries it uses) imports, in production only (nx's
//                       createPackageJson over the project graph), versions from the lockfile
//   package-lock.json   the workspace lockfile pruned to those packages (nx's createLockFile)
//   dist/               the app's compiled JavaScript
//   workspace_modules/  each @tideline library it uses: package.json and dist/ only
//   node_modules/       `npm ci --omit=dev --ignore-scripts` of the above
//   bin/<name>          for an app with a `bin` (the ops CLI): a launcher of dist/main.js
//
// npm settings come from the environment as usual (npm_config_*), e.g.
// npm_config_prefer_offline=true to install from the local cache.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const USAGE = 'usage: node tools/deploy/build-app.mjs <app> <out-dir>   (<app>: a folder of apps/)';

class BuildError extends Error {}

const say = (line) => process.stdout.write(`build-app: ${line}\n`);
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const writeJson = (file, value) => fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);

function parseArgs(argv) {
  if (argv.length !== 2 || argv.some((arg) => arg.startsWith('-'))) throw new BuildError(USAGE);
  const [app, out] = argv;
  const appDir = path.join(root, 'apps', app);
  if (!/^[a-z0-9-]+$/.test(app) || !fs.existsSync(path.join(appDir, 'project.json')))
    throw new BuildError(`"${app}" is not an app: no apps/${app}/project.json. ${USAGE}`);
  const outDir = path.resolve(out);
  if (fs.existsSync(outDir) && fs.readdirSync(outDir).length > 0)
    throw new BuildError(`${outDir} is not empty: give a new or empty directory`);
  return { app, appDir, outDir };
}

function run(command, args, options) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw new BuildError(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0)
    throw new BuildError(
      `${[path.basename(command), ...args].join(' ')} exited ${result.status ?? result.signal}`,
    );
}

/** package.json of every workspace project in the graph, by package name. */
function workspacePackages(graph) {
  const packages = new Map();
  for (const node of Object.values(graph.nodes)) {
    const file = path.join(root, node.data.root, 'package.json');
    if (fs.existsSync(file)) packages.set(readJson(file).name, { dir: path.join(root, node.data.root) });
  }
  return packages;
}

/** A workspace library's name, version and runtime dependencies: what an installed copy needs. */
function runtimeManifest(manifest, dependencies) {
  const { name, version, description, main, types, exports, type } = manifest;
  return Object.fromEntries(
    Object.entries({
      name,
      version,
      private: true,
      description,
      type,
      main,
      types,
      exports,
      dependencies,
    }).filter(([, value]) => value !== undefined),
  );
}

function copyDist(fromDir, toDir) {
  const dist = path.join(fromDir, 'dist');
  if (!fs.existsSync(dist)) throw new BuildError(`${path.relative(root, dist)} is missing after the build`);
  fs.cpSync(dist, path.join(toDir, 'dist'), {
    recursive: true,
    filter: (source) => !source.endsWith('.tsbuildinfo'),
  });
}

async function main() {
  const { app, appDir, outDir } = parseArgs(process.argv.slice(2));
  const project = readJson(path.join(appDir, 'project.json')).name;
  const nxEnv = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
  Object.assign(process.env, nxEnv);

  say(`building ${project} and the libraries it uses (nx run ${project}:build)`);
  const nxPackage = require.resolve('nx/package.json');
  const nxBin = path.join(path.dirname(nxPackage), readJson(nxPackage).bin.nx);
  run(process.execPath, [nxBin, 'run', `${project}:build`], {
    cwd: root,
    env: nxEnv,
  });

  // @nx/js resolves the workspace from the current directory.
  process.chdir(root);
  const { createProjectGraphAsync } = await import('@nx/devkit');
  const { createLockFile, createPackageJson } = await import('@nx/js');
  const graph = await createProjectGraphAsync({ exitOnError: true });
  const manifest = createPackageJson(project, graph, {
    root,
    isProduction: true,
    target: 'build',
    skipPackageManager: true,
  });
  const workspace = workspacePackages(graph);

  // The @tideline libraries the app uses, transitively, all as direct dependencies: npm links
  // each from workspace_modules/ (a file: dependency), and a library's own "@tideline/x": "*"
  // is met by the copy linked at the top.
  const modules = new Set();
  const visit = (name) => {
    if (modules.has(name)) return;
    modules.add(name);
    const own = readJson(path.join(workspace.get(name).dir, 'package.json'));
    for (const dependency of Object.keys(own.dependencies ?? {}))
      if (workspace.has(dependency)) visit(dependency);
  };
  for (const name of Object.keys(manifest.dependencies ?? {})) if (workspace.has(name)) visit(name);
  manifest.dependencies = Object.fromEntries(
    Object.entries({
      ...manifest.dependencies,
      ...Object.fromEntries([...modules].map((name) => [name, '*'])),
    }).sort(([a], [b]) => a.localeCompare(b)),
  );
  const lockfile = JSON.parse(createLockFile(manifest, graph, 'npm'));

  fs.mkdirSync(outDir, { recursive: true });
  copyDist(appDir, outDir);
  const dependencies = { ...manifest.dependencies };
  for (const name of modules) {
    const source = workspace.get(name);
    const target = path.join(outDir, 'workspace_modules', name);
    fs.mkdirSync(target, { recursive: true });
    copyDist(source.dir, target);
    const own = readJson(path.join(source.dir, 'package.json'));
    writeJson(path.join(target, 'package.json'), runtimeManifest(own, own.dependencies));
    dependencies[name] = `file:./workspace_modules/${name}`;
  }
  // The lockfile must name the same specifiers as package.json for `npm ci`.
  lockfile.packages[''].dependencies = dependencies;

  const bin = {};
  for (const name of Object.keys(manifest.bin ?? {})) {
    fs.mkdirSync(path.join(outDir, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(outDir, 'bin', name), "#!/usr/bin/env node\nrequire('../dist/main.js');\n", {
      mode: 0o755,
    });
    bin[name] = `./bin/${name}`;
  }
  const appManifest = runtimeManifest(manifest, dependencies);
  delete appManifest.exports;
  delete appManifest.types;
  writeJson(path.join(outDir, 'package.json'), {
    ...appManifest,
    ...(Object.keys(bin).length > 0 ? { bin } : {}),
  });
  writeJson(path.join(outDir, 'package-lock.json'), lockfile);

  const external = Object.keys(dependencies).filter((dep) => !workspace.has(dep));
  say(`installing ${external.length} production packages (${external.join(', ')})`);
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: outDir });
  say(`done: ${outDir} runs with \`node dist/main.js\``);
}

try {
  await main();
} catch (error) {
  if (!(error instanceof BuildError)) throw error;
  process.stderr.write(`build-app: ${error.message}\n`);
  process.exitCode = 1;
}
