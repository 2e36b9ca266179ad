import type { MessagingErrorCode } from '@tideline/messaging';

/**
 * The CLI's own error codes, listed with their fix in docs/reference/errors.md (a test keeps the two in step).
 * A failure that comes from a library keeps the library's code (`TDL_MSG_*`, `TDL_CONFIG_INVALID`).
 */
export const cliErrorCodes = {
  /** Exit 2: unknown command or option, an option the command does not take, a malformed value. */
  TDL_CLI_USAGE: { exitCode: 2 },
  TDL_CLI_CATALOG_INVALID: { exitCode: 1 },
  TDL_CLI_UNKNOWN_SERVICE: { exitCode: 1 },
  TDL_CLI_TOPIC_NOT_READ: { exitCode: 1 },
  TDL_CLI_NO_DEAD_LETTER: { exitCode: 1 },
  TDL_CLI_REDRIVE_STOPPED: { exitCode: 1 },
  TDL_CLI_DATABASE_UNAVAILABLE: { exitCode: 1 },
  TDL_CLI_PROJECTION_NOT_FOUND: { exitCode: 1 },
  TDL_CLI_REBUILD_RUNNING: { exitCode: 1 },
  TDL_CLI_REBUILD_FAILED: { exitCode: 1 },
  TDL_CLI_POSITIONS_NOT_MOVED: { exitCode: 1 },
  TDL_CLI_MANIFESTS_DRIFT: { exitCode: 1 },
  TDL_CLI_UNEXPECTED: { exitCode: 1 },
} as const;

export type CliErrorCode = keyof typeof cliErrorCodes;

/** What an error printed by the CLI can be coded as. */
export type ErrorCode = CliErrorCode | MessagingErrorCode | 'TDL_CONFIG_INVALID';

/**
 * A failure the user can act on: one line on stderr (`{"error":{"code","message"}}` with --json),
 * exit code 1 (2 for usage).
 */
export class CliError extends Error {
  readonly exitCode: 1 | 2;

  constructor(
    message: string,
    readonly code: ErrorCode,
  ) {
    super(message);
    this.name = 'CliError';
    this.exitCode = code === 'TDL_CLI_USAGE' ? 2 : 1;
  }
}

export const usageError = (message: string) => new CliError(message, 'TDL_CLI_USAGE');

/** A typed library error as a CLI error: same message, same code. */
export const fromMessagingError = (error: { message: string; code: MessagingErrorCode }, suffix = '') =>
  new CliError(`${error.message}${suffix}`, error.code);
