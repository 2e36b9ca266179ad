import { parseArgs } from 'node:util';
import { ConfigError, type Env } from '@tideline/config';
import { CliError, usageError, type ErrorCode } from './cli-error';
import { asyncapi } from './commands/asyncapi';
import { dlqList, dlqRedrive, dlqShow } from './commands/dlq';
import { manifestsStrimzi } from './commands/manifests';
import { groupsDescribe, groupsLag, groupsList } from './commands/groups';
import { projectionRebuild, projectionStatus } from './commands/projection';
import { replay } from './commands/replay';
import { schemasCheck, schemasDiff, schemasRegister } from './commands/schemas';
import { topicsPlan } from './commands/topics';
import { loadOpsConfig } from './config';
import { createContext, type CommandContext } from './context';
import {
  OPTIONS,
  optionLabel,
  parseArgsOptions,
  withConnectionFlags,
  type OptionName,
  type OptionValues,
} from './options';
import { createOutput } from './output';
import type { ProgressTerminal } from './progress';
import { cliVersion } from './version';

export interface Command {
  summary: string;
  /** Whether the command changes something (then it is a dry run without --execute). */
  changes: boolean;
  /** Options it takes besides --json and --help (and --execute when it changes something); others are usage errors. */
  options?: readonly OptionName[];
  /** Options it cannot do without. */
  required?: readonly OptionName[];
  /** More help: what it shows, examples. */
  details?: string;
  /** Positional arguments after the command's words (e.g. `<projection>`), all required. */
  args?: readonly string[];
  run: (ctx: CommandContext) => Promise<void>;
}

const DLQ_FILTERS = ['topic', 'fingerprint', 'since'] as const;
/** The connection flags of the commands that reach Kafka / the registry. */
const KAFKA = ['bootstrap-server'] as const;
const REGISTRY = ['registry'] as const;

const commands: Record<string, Command> = {
  'schemas check': {
    summary:
      'compare each local schema with the latest registered version (BACKWARD); exit 1 if incompatible',
    changes: false,
    options: ['schemas', ...REGISTRY],
    run: schemasCheck,
  },
  'schemas register': {
    summary: 'register every schema under its topic subject (idempotent)',
    changes: true,
    options: ['schemas', ...REGISTRY],
    run: schemasRegister,
  },
  'schemas diff': {
    summary: 'show each local schema against the latest registered one, field by field',
    changes: false,
    options: ['schemas', ...REGISTRY],
    run: schemasDiff,
  },
  'topics plan': {
    summary: 'compare the topic catalog (with retry and dead-letter topics) with the cluster',
    changes: false,
    options: ['schemas', 'replication', ...KAFKA],
    run: (ctx) => topicsPlan(ctx, false),
  },
  'topics apply': {
    summary: 'create missing topics, add replicas and partitions, fix configs to match the catalog',
    changes: true,
    options: ['schemas', 'replication', ...KAFKA],
    run: (ctx) => topicsPlan(ctx, true),
  },
  'groups list': {
    summary: 'every consumer group with its state and member count',
    changes: false,
    options: [...KAFKA],
    run: groupsList,
  },
  'groups describe': {
    summary: 'a group’s state, members and their partitions, committed offsets',
    changes: false,
    options: ['group', ...KAFKA],
    required: ['group'],
    run: groupsDescribe,
  },
  'groups lag': {
    summary:
      'offset lag and time lag (age of the oldest unconsumed record): every group, most behind first, or per partition of one',
    changes: false,
    options: ['group', 'topic', ...KAFKA],
    details:
      'Without --group: one line per consumer group (state, members, topics, records behind, oldest unconsumed),\n' +
      'the most behind first; a group with no committed offsets shows "-" (nothing to measure yet). --topic keeps\n' +
      'the groups that read that topic and counts only it. With --group: that group per partition and per topic.\n\n' +
      'Examples:\n' +
      '  tideline groups lag\n' +
      '  tideline groups lag --topic orders.order-placed.v1 --json\n' +
      '  tideline groups lag --group order-processor',
    run: groupsLag,
  },
  replay: {
    summary:
      'move a stopped group on a topic to a time, earliest, latest or offsets; shows per partition what is reprocessed',
    changes: true,
    options: ['group', 'topic', 'to', ...KAFKA],
    required: ['group', 'topic', 'to'],
    details:
      'Refuses while the group has members (and names them). A projection group (positions in PostgreSQL at\n' +
      'DATABASE_URL) has its stored positions moved too.\n\n' +
      'Examples:\n' +
      '  tideline replay --group order-processor --topic orders.order-placed.v1 --to 2026-11-23T10:00:00Z\n' +
      '  tideline replay --group order-processor --topic orders.order-placed.v1 --to 0:1200,3:980 --execute',
    run: replay,
  },
  'dlq list': {
    summary: 'dead letters of a group grouped by error fingerprint, with counts and first/last seen',
    changes: false,
    options: ['group', ...DLQ_FILTERS, ...KAFKA],
    required: ['group'],
    run: dlqList,
  },
  'dlq show': {
    summary: 'the oldest matching dead letters in full: decoded value, headers, error',
    changes: false,
    options: ['group', ...DLQ_FILTERS, 'limit', ...KAFKA, ...REGISTRY],
    required: ['group'],
    run: dlqShow,
  },
  'dlq redrive': {
    summary: 'send dead letters back to their topic (or a retry tier), rate-limited, each exactly once',
    changes: true,
    options: ['group', ...DLQ_FILTERS, 'limit', 'rate', 'to-retry', ...KAFKA],
    required: ['group', 'topic'],
    details:
      'Each redriven record keeps its headers (event id, correlation, trace) minus the failure headers, and names\n' +
      'its dead letter in tdl-redriven-from; a marker in the dead-letter topic, written in the same Kafka\n' +
      'transaction, keeps any later redrive from moving it again.\n\n' +
      'Example:\n' +
      '  tideline dlq redrive --group order-processor --topic orders.order-placed.v1 --fingerprint 9af7 --rate 50 --execute',
    run: dlqRedrive,
  },
  'projection status': {
    summary: 'a projection’s live table version, rows, positions and lag, and any rebuild running',
    changes: false,
    args: ['<projection>'],
    options: ['group', ...KAFKA],
    details:
      '<projection> is order-projection or sales-projection; --group names an instance whose GROUP_ID is not\n' +
      'the default. Reads DATABASE_URL.',
    run: projectionStatus,
  },
  'projection rebuild': {
    summary:
      'zero-downtime shadow rebuild: replay into new tables, compare with the live ones, switch atomically',
    changes: true,
    args: ['<projection>'],
    options: ['group', 'allow-differences', ...KAFKA, ...REGISTRY],
    details:
      'Fills the next version of the tables from the log under its own consumer group (progress with ETA),\n' +
      'holds the live projection for seconds while it applies the last records and compares every table\n' +
      '(row counts and checksums), then points reads and writes at the new version in one transaction and\n' +
      'drops the old one. Queries and live streams keep working; clients see no gap. Reads DATABASE_URL and\n' +
      'the SIGNING_* variables (records are verified like the service does).\n\n' +
      'Example:\n' +
      '  tideline projection rebuild order-projection --execute',
    run: projectionRebuild,
  },
  'manifests strimzi': {
    summary:
      'Strimzi KafkaTopic (retry and dead-letter topics too) and per-service KafkaUser (SCRAM, least-privilege ACLs) resources from the catalog',
    changes: false,
    options: ['schemas', 'out', 'check', 'cluster'],
    details:
      'Writes kafka-topics.yaml, kafka-users.yaml and kustomization.yaml (or prints them without --out). The\n' +
      'prod overlay keeps them in k8s/overlays/prod/strimzi; a test fails when they drift from the catalog.\n\n' +
      'Examples:\n' +
      '  tideline manifests strimzi --out k8s/overlays/prod/strimzi\n' +
      '  tideline manifests strimzi --out k8s/overlays/prod/strimzi --check',
    run: manifestsStrimzi,
  },
  asyncapi: {
    summary:
      'the AsyncAPI 3 document of every topic, message, producer and consumer group (YAML; JSON with --json)',
    changes: false,
    options: ['schemas', 'service'],
    run: asyncapi,
  },
};

const ENVIRONMENT = `Environment:
  KAFKA_BROKERS        host:port list (default 127.0.0.1:9092; --bootstrap-server wins)
  SCHEMA_REGISTRY_URL  Confluent-compatible API (default http://127.0.0.1:8081/apis/ccompat/v7; --registry wins)
  DATABASE_URL         PostgreSQL of the projections (optional; default postgres://postgres@127.0.0.1:5432/tideline)`;

/** The options a command accepts. */
function accepted(command: Command): OptionName[] {
  return ['json', ...(command.changes ? (['execute'] as const) : []), ...(command.options ?? []), 'help'];
}

function optionsHelp(names: readonly OptionName[], required: readonly OptionName[] = []): string {
  const labels = names.map((name) => [optionLabel(name), name] as const);
  const width = Math.max(...labels.map(([label]) => label.length));
  return labels
    .map(
      ([label, name]) =>
        `  ${label.padEnd(width)}  ${OPTIONS[name].help}${required.includes(name) ? ' (required)' : ''}`,
    )
    .join('\n');
}

export function helpText(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(18)} ${c.summary}`);
  const common: OptionName[] = ['json', 'execute', 'help'];
  return `Usage: tideline <command> [options]\n       tideline --version\n\nCommands:\n${lines.join('\n')}\n\nOptions every command takes (tideline <command> --help lists the rest):\n${optionsHelp(common)}\n\n${ENVIRONMENT}\n`;
}

function commandHelp(name: string, command: Command): string {
  const usage = [...(command.args ?? []), ...(command.required ?? []).map((o) => optionLabel(o))].join(' ');
  return `Usage: tideline ${name}${usage ? ` ${usage}` : ''} [options]\n\n${command.summary}${command.changes ? ' (dry run unless --execute)' : ''}\n${command.details ? `\n${command.details}\n` : ''}\nOptions:\n${optionsHelp(accepted(command), command.required)}\n\n${ENVIRONMENT}\n`;
}

/** Refuses an option the command does not take, and a missing required one. */
function checkOptions(name: string, command: Command, values: OptionValues): void {
  const allowed = new Set(accepted(command));
  for (const option of Object.keys(values) as OptionName[]) {
    if (values[option] !== undefined && !allowed.has(option))
      throw usageError(`${name} does not take --${option}; see tideline ${name} --help`);
  }
  const missing = (command.required ?? []).filter((option) => values[option] === undefined);
  if (missing.length > 0) {
    throw usageError(
      `${name} needs ${missing.map((o) => optionLabel(o)).join(' and ')}; see tideline ${name} --help`,
    );
  }
  for (const option of Object.keys(values)) {
    if (values[option as OptionName] === '')
      throw usageError(`--${option} needs a value; see tideline ${name} --help`);
  }
}

export interface CliIo {
  env: Env;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr when it is a terminal: progress bars are drawn there. */
  terminal?: ProgressTerminal | undefined;
  now?: () => number;
}

/** `--json` among the arguments (before a `--`): how to print an error found before they are parsed. */
const wantsJson = (argv: readonly string[]): boolean => {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
};

/** One line on stderr: `tideline: message`, or with --json `{"error":{"code","message"}}`. */
function errorLine(json: boolean, code: ErrorCode, message: string): string {
  const line = message.replace(/\s*\n\s*/g, ' ');
  return json ? `${JSON.stringify({ error: { code, message: line } })}\n` : `tideline: ${line}\n`;
}

/** Runs the CLI; returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let close: (() => Promise<void>) | undefined;
  let json = wantsJson(argv);
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        allowPositionals: true,
        strict: true,
        options: parseArgsOptions,
      });
    } catch (error) {
      throw usageError(`${(error as Error).message}; see tideline --help`);
    }
    const { positionals } = parsed;
    const values: OptionValues = parsed.values;
    json = values.json ?? false;
    const name = positionals.slice(0, 2).join(' ');
    if (values.version) {
      const other = Object.keys(values).filter((option) => option !== 'version' && option !== 'json');
      if (positionals.length > 0 || other.length > 0)
        throw usageError('--version takes no command or other option; see tideline --help');
      io.stdout(json ? `${JSON.stringify({ version: cliVersion() })}\n` : `tideline ${cliVersion()}\n`);
      return 0;
    }
    if (positionals.length === 0) {
      io.stdout(helpText());
      return values.help ? 0 : 2;
    }
    const command = commands[name] ?? (positionals.length === 1 ? undefined : commands[positionals[0]!]);
    const commandName = commands[name] ? name : positionals[0]!;
    const words = commandName.split(' ').length;
    if (!command || positionals.length > words + (command.args?.length ?? 0)) {
      throw usageError(`unknown command "${positionals.join(' ')}"; see tideline --help`);
    }
    if (values.help) {
      io.stdout(commandHelp(commandName, command));
      return 0;
    }
    checkOptions(commandName, command, values);
    const env = withConnectionFlags(io.env, values);
    let config;
    try {
      config = loadOpsConfig(env);
    } catch (error) {
      if (error instanceof ConfigError)
        throw new CliError(`invalid configuration: ${error.problems.join('; ')}`, error.code);
      throw error;
    }
    const ctx = createContext(
      config,
      createOutput(json, io.stdout),
      values.execute ?? false,
      values.schemas,
      {
        options: values,
        args: positionals.slice(words),
        env,
        terminal: io.terminal,
        ...(io.now ? { now: io.now } : {}),
      },
    );
    close = ctx.close;
    await command.run(ctx);
    return 0;
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr(errorLine(json, error.code, error.message));
      return error.exitCode;
    }
    // One line too; the stack only on request.
    const stack = io.env['TIDELINE_DEBUG']
      ? ` ${(error as Error).stack ?? ''}`
      : ' (TIDELINE_DEBUG=1 shows the stack)';
    io.stderr(
      errorLine(
        json,
        'TDL_CLI_UNEXPECTED',
        `unexpected failure: ${error instanceof Error ? error.message : String(error)};${stack}`,
      ),
    );
    return 1;
  } finally {
    await close?.();
  }
}
