import { hostname } from 'node:os';
import { pino, type DestinationStream, type Logger } from 'pino';
import { logMixin } from './log-context';

const withContext = new WeakSet<object>();

/**
 * JSON lines tagged with the service; every line also carries the fields of the async context
 * it was logged in (correlation id, trace and span id, and for records group, topic,
 * partition, offset, event id). API keys never reach the log.
 */
export function createServiceLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const logger = pino(
    {
      level,
      base: { service, pid: process.pid, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
      mixin: logMixin,
    },
    destination,
  );
  withContext.add(logger);
  return logger;
}

/** Whether `logger` adds the async context's fields itself (so a child need not bind them again). */
export function logsContext(logger: object): boolean {
  return withContext.has(logger);
}
