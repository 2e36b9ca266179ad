export { MIGRATIONS_TABLE, MigrationError, migrate } from './migrations';
export type { Migration } from './migrations';
export {
  FEED_CHANNEL,
  FEED_HEADS_TABLE,
  FEED_TABLE,
  OFFSETS_TABLE,
  PostgresProjectionStore,
  isTransientPgError,
  migrateRuntime,
  runtimeMigrations,
  setPositions,
} from './store';
export type { ApplyRecords, FeedChange, StoredPosition } from './store';
export { ChangeFeed } from './feed';
export type { ChangeFeedOptions, FeedEntry } from './feed';
