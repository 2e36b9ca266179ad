import { hostname } from 'node:os';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { OrderApiConfig } from './config';

/** JSON lines tagged with the service; API keys never reach the log. */
export function createLogger(level: OrderApiConfig['LOG_LEVEL'], destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'order-api', pid: process.pid, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
    },
    destination,
  );
}
