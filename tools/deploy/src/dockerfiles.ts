// Offline checks of the apps' Dockerfiles: the syntax as Docker's builder reads it
// (dockerfile-utils, the VS Code Docker language server's validator) and the recipe every image
// must follow. checkDockerfile() returns problems, so a broken fixture can show it fails.
import {
  DockerfileParser,
  type Instruction,
  type JSONInstruction,
  type ModifiableInstruction,
  type PropertyInstruction,
} from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import type { App } from './apps';

export interface DockerfileExpectations {
  /** The Node version every image runs: the root package.json's pinned `node`. */
  nodeVersion: string;
  /** A service's PORT default; the CLI has none. */
  port?: number;
  /** The CLI's command name (package.json `bin`). */
  command?: string;
}

const words = (instruction: Instruction) => instruction.getArguments().map((argument) => argument.getValue());
/** The exec-form (JSON array) arguments of CMD or ENTRYPOINT, as JSON text; shell form gives "[]". */
const execForm = (instruction: Instruction) =>
  JSON.stringify(
    (instruction as JSONInstruction).getJSONStrings().map((argument) => argument.getJSONValue()),
  );

/** Every way a Dockerfile breaks the image recipe; empty when it holds. */
export function checkDockerfile(text: string, app: App, expect: DockerfileExpectations): string[] {
  const problems = validate(text).map((diagnostic) => {
    const message = typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value;
    return `line ${diagnostic.range.start.line + 1}: ${message}`;
  });
  const dockerfile = DockerfileParser.parse(text);
  const froms = dockerfile.getFROMs();
  if (froms.length < 2) problems.push('must be multi-stage: build in one stage, run from a clean one');
  for (const from of froms) {
    const tag = from.getImageTag() ?? '';
    if (from.getImageName() !== 'node' || !tag.startsWith(`${expect.nodeVersion}-`) || !tag.endsWith('-slim'))
      problems.push(
        `line ${from.getRange().start.line + 1}: FROM ${from.getImage()} should be node:${expect.nodeVersion}-<debian>-slim (the Node of package.json)`,
      );
  }
  const instructions = dockerfile.getInstructions();
  const recipe = `node tools/deploy/build-app.mjs ${app.name} /out`;
  if (!instructions.some((i) => i.getKeyword() === 'RUN' && (i.getArgumentsContent() ?? '').includes(recipe)))
    problems.push(`the build stage must run \`${recipe}\`, the recipe tools/deploy tests without Docker`);

  const lastFrom = froms.at(-1);
  const runtime = lastFrom
    ? instructions.filter((i) => i.getRange().start.line > lastFrom.getRange().start.line)
    : [];
  const find = (keyword: string) => runtime.filter((i) => i.getKeyword() === keyword);
  const copies = find('COPY') as ModifiableInstruction[];
  if (!copies.some((c) => c.getFlags().some((f) => f.getName() === 'from') && words(c)[0] === '/out/'))
    problems.push('the runtime stage must copy /out/ (the pruned app) from the build stage');
  if (find('RUN').length > 0)
    problems.push('the runtime stage must not RUN anything (no package manager, no build tools)');
  const user = find('USER').at(-1);
  const uid = user ? words(user)[0]?.split(':')[0] : undefined;
  if (!uid || !/^\d+$/.test(uid) || uid === '0')
    problems.push(
      'the runtime stage must switch to a numeric non-root USER (Kubernetes runAsNonRoot checks the number)',
    );
  const env = new Map<string, string>();
  for (const instruction of find('ENV') as PropertyInstruction[])
    for (const property of instruction.getProperties())
      env.set(property.getName(), property.getValue() ?? '');
  if (env.get('NODE_ENV') !== 'production') problems.push('the runtime stage must set NODE_ENV=production');
  const healthcheck = find('HEALTHCHECK').at(-1);

  if (app.kind === 'service') {
    const port = String(expect.port);
    if (env.get('HOST') !== '0.0.0.0')
      problems.push('must set HOST=0.0.0.0: the apps listen on 127.0.0.1 by default');
    if (env.get('PORT') !== port) problems.push(`must set PORT=${port}, ${app.name}'s port`);
    if (!find('EXPOSE').some((e) => words(e).includes(port))) problems.push(`must EXPOSE ${port}`);
    const command = healthcheck?.getArgumentsContent() ?? '';
    if (!/CMD\s+\["tideline-healthcheck",\s*"\/healthz"\]/.test(command))
      problems.push('must have HEALTHCHECK CMD ["tideline-healthcheck", "/healthz"] (liveness)');
    const cmd = find('CMD').at(-1);
    if (!cmd || execForm(cmd) !== JSON.stringify(['node', 'dist/main.js']))
      problems.push('must start with CMD ["node", "dist/main.js"] (exec form: the app gets SIGTERM itself)');
  } else {
    if (!healthcheck || (healthcheck.getArgumentsContent() ?? '').trim() !== 'NONE')
      problems.push('a command-line image must say HEALTHCHECK NONE: it runs to completion');
    const entrypoint = find('ENTRYPOINT').at(-1);
    if (!entrypoint || execForm(entrypoint) !== JSON.stringify([expect.command]))
      problems.push(`must have ENTRYPOINT ["${expect.command}"] (exec form)`);
  }
  return problems;
}

/** Patterns the build context must leave out. */
export const DOCKERIGNORE_REQUIRED = ['**/node_modules', '**/dist', '.git', '.env', '.stack'] as const;

export function checkDockerignore(text: string): string[] {
  const lines = new Set(
    text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#')),
  );
  return DOCKERIGNORE_REQUIRED.filter((pattern) => !lines.has(pattern)).map(
    (pattern) => `.dockerignore must exclude ${pattern}`,
  );
}
