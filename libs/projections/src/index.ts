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
  SWITCH_LOCK_KEY_SQL,
  VERSIONS_TABLE,
  ORIGINS_TABLE,
} from './store';
export type { ApplyRecords, FeedChange, ProjectionStoreOptions, StoredPosition } from './store';
export { createDatabasePool, databasePoolConfig } from './pool';
export type { DatabasePoolOptions, DatabaseSettings } from './pool';
export { ChangeFeed } from './feed';
export type { ChangeFeedOptions, FeedEntry } from './feed';
export type { ProjectionDefinition, ProjectionTable } from './definition';
export { ddlFingerprint, ensureProjectionLayout, liveVersion, pointViewsAt, versionSchema } from './layout';
export type { LiveVersion } from './layout';
export {
  RebuildError,
  SWITCH_CHANNEL,
  compareVersions,
  rebuildProjection,
  storedPositions,
  tableChecksum,
} from './rebuild';
export type {
  Positions,
  RebuildOptions,
  RebuildPhase,
  RebuildProgress,
  RebuildResult,
  TableChecksum,
  TableComparison,
} from './rebuild';
