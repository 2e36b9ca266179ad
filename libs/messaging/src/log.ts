/**
 * The logger this library writes to: pino's call shape (`logger.warn({ fields }, 'message')`),
 * so a service passes its pino logger straight in. Silent by default.
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  /** pino's: lets per-record lines cost nothing when their level is off. */
  isLevelEnabled?(level: string): boolean;
}

const ignore = (): void => undefined;

export const silentLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
