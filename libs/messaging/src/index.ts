export { RegistryCodec, frame, invalidPaths, unframe } from './codec';
export type { RegistryCodecOptions } from './codec';
export { MessagingError, isMessagingError, messagingErrorCodes } from './errors';
export type { MessagingErrorCode } from './errors';
export { createKafka, kafkaClientConfig, kafkaConnection } from './kafka';
export type { Admin, Kafka, KafkaConnection, KafkaSasl, KafkaSettings } from './kafka';
export { backwardProblems, checkSchemas, registerSchemas } from './schema-admin';
export type { SchemaCheck, SchemaCheckStatus, SchemaRegistration } from './schema-admin';
export { diffSchemas, renderType, schemaFieldChanges } from './schema-diff';
export type { FieldChange, SchemaDiff } from './schema-diff';
export {
  applyTopicPlan,
  desiredConfig,
  ensureGroupTopics,
  createTopicsAndWait,
  ensureTopics,
  planTopics,
  topicDurability,
} from './topic-admin';
export type { ApplyOptions, DurabilityReport, PlanOptions, TopicAction, TopicPlan } from './topic-admin';
export { lowerDurability } from './topic-plan';
export type { Durability } from './topic-plan';
export {
  everyGroupLag,
  groupLag,
  listConsumerGroups,
  parseOffsetTarget,
  planOffsetReset,
  resetOffsets,
  topicWatermarks,
} from './offsets-admin';
export type {
  ConsumerGroupSummary,
  GroupLag,
  GroupLagSummary,
  GroupMemberLag,
  OffsetResetOptions,
  OffsetResetPlan,
  OffsetTarget,
  PartitionLag,
  PartitionOffsetChange,
  Watermarks,
} from './offsets-admin';
export { readTopic } from './topic-reader';
export type { ReadProgress, ReadSummary, ReadTopicOptions, TopicRecord } from './topic-reader';
export {
  DeadLetterRedriver,
  decodeDeadLetterValue,
  readDeadLetters,
  redriveMarker,
  redrivenRecord,
  scanDeadLetters,
  summarizeDeadLetters,
} from './dead-letters';
export type {
  DeadLetter,
  DeadLetterFilter,
  DeadLetterGroup,
  DeadLetterRecord,
  DeadLetterScan,
  RedriveProgress,
  RedriveResult,
  RedriveTarget,
} from './dead-letters';
export { asyncApiDocument } from './asyncapi';
export type { AsyncApiDocument, AsyncApiOptions } from './asyncapi';
export {
  catalogGroupTopics,
  deadLetterTopicName,
  defaultRetryPolicy,
  groupTopics,
  retryTopicName,
} from './group-topics';
export type { GroupSource, ManagedTopic, RetryPolicy } from './group-topics';
export {
  AVRO_CONTENT_TYPE,
  FAILURE_HEADERS,
  HEADER,
  identityOf,
  parseHeaders,
  readHeaders,
  withoutFailureHeaders,
} from './headers';
export type { EventIdentity, Headers } from './headers';
export { RecordSigner, signerFromConfig } from './signing';
export type { SigningKey, SigningOptions, SigningPolicy, SigningSettings } from './signing';
export { Publisher, kafkaError } from './publisher';
export { reactionEventId } from './reaction-id';
export type {
  Cause,
  LateOutcome,
  OutgoingRecord,
  PublishOptions,
  PublishReceipt,
  PublisherOptions,
  RecordPosition,
} from './publisher';
export { TidelineConsumer, createConsumer, subscribe } from './consumer';
export { blockedPartitionsCheck, type BlockedPartition } from './blocked-partitions';
export type {
  ConsumerOptions,
  ConsumerState,
  ConsumerStatus,
  RecordContext,
  Saturation,
  StartPosition,
  Subscription,
} from './consumer';
export { ProcessingError, describeFailure, failureHeaders, fingerprint } from './failure';
export type { Failure } from './failure';
export { Table, createTable } from './table';
export type { TableOptions, TableStats } from './table';
export {
  PROCESSED_EVENTS_TABLE,
  claimEvent,
  ensureProcessedEventsTable,
  processOnce,
  pruneProcessedEvents,
} from './idempotency';
export type { SqlClient, SqlPool } from './idempotency';
export { exitOnSignal } from './shutdown';
export type { ShutdownOptions } from './shutdown';
export { silentLogger } from './log';
export type { Logger } from './log';
export { ProjectionConsumer, createProjectionConsumer } from './projection-consumer';
export type {
  ProjectionBatch,
  ProjectionConsumerOptions,
  ProjectionConsumerState,
  ProjectionConsumerStatus,
  ProjectionRecord,
  ProjectionStore,
} from './projection-consumer';
export { LagMonitor } from './lag-monitor';
export type { LagMonitorOptions, LagSnapshot, OwnPositions, PartitionLagSample } from './lag-monitor';
