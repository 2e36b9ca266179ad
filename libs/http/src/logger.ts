import { hostname } from 'node:os';
import { pino, type DestinationStream, type Logger } from 'pino';

/** JSON lines tagged with the service; API keys never reach the log. */
export function createServiceLogger(service: string, level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service, pid: process.pid, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
    },
    destination,
  );
}
