import { parseArgs } from 'node:util';
import { ConfigError, type Env } from '@tideline/config';
import { CliError, usageError } from './cli-error';
import { schemasCheck, schemasRegister } from './commands/schemas';
import { topicsPlan } from './commands/topics';
import { loadOpsConfig } from './config';
import { createContext, type CommandContext } from './context';
import { createOutput } from './output';

interface Command {
  summary: string;
  /** Whether the command changes something (then it is a dry run without --execute). */
  changes: boolean;
  run: (ctx: CommandContext) => Promise<void>;
}

const commands: Record<string, Command> = {
  'schemas check': {
    summary:
      'compare each local schema with the latest registered version (BACKWARD); exit 1 if incompatible',
    changes: false,
    run: schemasCheck,
  },
  'schemas register': {
    summary: 'register every schema under its topic subject (idempotent)',
    changes: true,
    run: schemasRegister,
  },
  'topics plan': {
    summary: 'compare the topic catalog with the cluster',
    changes: false,
    run: (ctx) => topicsPlan(ctx, false),
  },
  'topics apply': {
    summary: 'create missing topics, add partitions and fix configs to match the catalog',
    changes: true,
    run: (ctx) => topicsPlan(ctx, true),
  },
};

const COMMON_OPTIONS = `Options:
  --schemas DIR  read topics and schemas from a schemas/ folder instead of the built-in contracts
  --json         machine-readable output on stdout
  --execute      act (commands that change something are dry runs without it)
  -h, --help     show help

Environment:
  KAFKA_BROKERS        host:port list (default 127.0.0.1:9092)
  SCHEMA_REGISTRY_URL  Confluent-compatible API (default http://127.0.0.1:8081/apis/ccompat/v7)`;

export function helpText(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(17)} ${c.summary}`);
  return `Usage: tideline <command> [options]\n\nCommands:\n${lines.join('\n')}\n\n${COMMON_OPTIONS}\n`;
}

function commandHelp(name: string, command: Command): string {
  return `Usage: tideline ${name} [options]\n\n${command.summary}${command.changes ? ' (dry run unless --execute)' : ''}\n\n${COMMON_OPTIONS}\n`;
}

export interface CliIo {
  env: Env;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Runs the CLI; returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        allowPositionals: true,
        strict: true,
        options: {
          json: { type: 'boolean', default: false },
          execute: { type: 'boolean', default: false },
          schemas: { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      });
    } catch (error) {
      throw usageError(`${(error as Error).message}; see tideline --help`);
    }
    const { values, positionals } = parsed;
    const name = positionals.slice(0, 2).join(' ');
    if (positionals.length === 0) {
      io.stdout(helpText());
      return values.help ? 0 : 2;
    }
    const command = commands[name];
    if (!command || positionals.length > 2) {
      throw usageError(`unknown command "${positionals.join(' ')}"; see tideline --help`);
    }
    if (values.help) {
      io.stdout(commandHelp(name, command));
      return 0;
    }
    let config;
    try {
      config = loadOpsConfig(io.env);
    } catch (error) {
      if (error instanceof ConfigError)
        throw new CliError(`invalid configuration: ${error.problems.join('; ')}`);
      throw error;
    }
    const ctx = createContext(config, createOutput(values.json, io.stdout), values.execute, values.schemas);
    await command.run(ctx);
    return 0;
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr(`tideline: ${error.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return error.exitCode;
    }
    io.stderr(`tideline: unexpected failure: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}
