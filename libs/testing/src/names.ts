import { randomBytes } from 'node:crypto';

/** A name no other test run (or test in this run) uses: `<prefix>-<time>-<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** A unique topic name that still follows `<domain>.<event-name>.v<major>`. */
export function uniqueTopicName(domain = 'test', event = 'event'): string {
  return `${domain}.${uniqueName(event)}.v1`;
}
