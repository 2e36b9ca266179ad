// Traces and metrics of the Kafka runtime. Attribute names follow the OpenTelemetry messaging
// semantic conventions (copied, as those conventions advise for their incubating names);
// metric names and labels follow Prometheus conventions, every label bounded.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import {
  BoundedLabel,
  DURATION_BUCKETS,
  SIZE_BUCKETS,
  boundCounter,
  boundHistogram,
  counter,
  gauge,
  histogram,
  metricsEnabled,
} from '@tideline/observability';
import type { Headers } from './headers';

export const tracer = trace.getTracer('@tideline/messaging');

export const ATTR = {
  system: 'messaging.system.name',
  operationName: 'messaging.operation.name',
  operationType: 'messaging.operation.type',
  destination: 'messaging.destination.name',
  partition: 'messaging.destination.partition.id',
  group: 'messaging.consumer.group.name',
  messageId: 'messaging.message.id',
  batchCount: 'messaging.batch.message_count',
  key: 'messaging.kafka.message.key',
  offset: 'kafka.offset',
  errorType: 'error.type',
} as const;

/** The attributes of a `process <topic>` span: one consumed record. */
export function processAttributes(
  topic: string,
  partition: number,
  offset: string,
  group: string,
  eventId: string | undefined,
): Attributes {
  return {
    [ATTR.system]: 'kafka',
    [ATTR.operationName]: 'process',
    [ATTR.operationType]: 'process',
    [ATTR.destination]: topic,
    [ATTR.partition]: String(partition),
    [ATTR.offset]: Number(offset),
    [ATTR.group]: group,
    [ATTR.messageId]: eventId ?? '',
  };
}

/** The trace context a record carries (its `traceparent`), or none. */
export function contextOf(headers: Headers): Context {
  return propagation.extract(ROOT_CONTEXT, headers);
}

/** A span failed: the exception as an event, the error status, the error code as `error.type`. */
export function failSpan(span: Span | undefined, error: unknown, code: string): void {
  if (span === undefined || !span.isRecording()) return;
  span.recordException(error instanceof Error ? error : String(error));
  span.setAttribute(ATTR.errorType, code);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

export { SpanKind };

export const consumedRecords = boundCounter({
  name: 'tideline_consumer_records_total',
  help: 'Records a consumer group finished with, by the topic read and outcome (processed, applied, skipped, retried, dead_lettered)',
  labelNames: ['group', 'topic', 'outcome'] as const,
});

export const handlerDuration = boundHistogram({
  name: 'tideline_consumer_handler_duration_seconds',
  help: 'Time to verify, decode and handle one record (failed attempts included), by group and source topic',
  labelNames: ['group', 'topic'] as const,
  buckets: DURATION_BUCKETS,
});

export const retries = counter({
  name: 'tideline_consumer_retries_total',
  help: 'Records moved to a retry tier, by group, source topic and tier',
  labelNames: ['group', 'topic', 'tier'] as const,
});

export const deadLetters = counter({
  name: 'tideline_consumer_dead_letters_total',
  help: 'Records moved to the dead-letter topic, by group, source topic, error code and error fingerprint (the tdl-error-fingerprint header; at most 100 distinct per process, then "other")',
  labelNames: ['group', 'topic', 'error_code', 'fingerprint'] as const,
});

export const producedRecords = boundCounter({
  name: 'tideline_producer_records_total',
  help: 'Records written to Kafka, by topic and outcome (acked, failed)',
  labelNames: ['topic', 'outcome'] as const,
});

export const lagRecords = gauge({
  name: 'tideline_consumer_lag_records',
  help: "Records of a partition the group has not consumed: the partition's end minus the group's position (committed offset; a projection's stored position)",
  labelNames: ['group', 'topic', 'partition'] as const,
});

export const lagSeconds = gauge({
  name: 'tideline_consumer_lag_seconds',
  help: 'Age of the oldest record of a partition the group has not consumed (0 when caught up), to within 1 s',
  labelNames: ['group', 'topic', 'partition'] as const,
});

export const lagSampleFailures = counter({
  name: 'tideline_consumer_lag_sample_failures_total',
  help: 'Lag samples that failed (Kafka or the store did not answer); the lag gauges keep their last values',
  labelNames: ['group'] as const,
});

export const blockedPartitions = gauge({
  name: 'tideline_consumer_partition_blocked',
  help: 'Partitions stopped because Kafka rejected the write of a retry or dead-letter record (1 while blocked); the write is retried with backoff',
  labelNames: ['group', 'topic', 'partition'] as const,
});

export const assignedPartitions = gauge({
  name: 'tideline_consumer_assigned_partitions',
  help: 'Partitions assigned to this instance at the last rebalance',
  labelNames: ['group'] as const,
});

export const rebalances = counter({
  name: 'tideline_consumer_rebalances_total',
  help: 'Times this instance joined its group (each rebalance it takes part in)',
  labelNames: ['group'] as const,
});

export const projectionBatchRecords = histogram({
  name: 'tideline_projection_batch_records',
  help: 'Records applied per projection store transaction',
  labelNames: ['projection'] as const,
  buckets: SIZE_BUCKETS,
});

export const projectionApplyDuration = histogram({
  name: 'tideline_projection_apply_duration_seconds',
  help: 'Time of one projection store transaction (read-model writes, position, change feed)',
  labelNames: ['projection'] as const,
  buckets: DURATION_BUCKETS,
});

const fingerprints = new BoundedLabel(100);
const errorCodes = new BoundedLabel(100);

/** Counts a dead letter under its (bounded) fingerprint and error code. */
export function countDeadLetter(group: string, topic: string, code: string, fingerprint: string): void {
  if (!metricsEnabled()) return;
  deadLetters.inc({
    group,
    topic,
    error_code: errorCodes.value(code),
    fingerprint: fingerprints.value(fingerprint),
  });
}

// The per-record metrics are bound ones (libs/observability): a child per label set, no hashing per call.

/** `tideline_producer_records_total` by topic and outcome. */
export const producedBy = {
  get: (topic: string, outcome: string) => producedRecords.labels({ topic, outcome }),
};

/** `tideline_consumer_records_total` by group, topic and outcome. */
export const consumedBy = {
  get: (group: string, topic: string, outcome: string) => consumedRecords.labels({ group, topic, outcome }),
};

/** `tideline_consumer_handler_duration_seconds` by group and source topic. */
export const handlerDurationBy = {
  get: (group: string, topic: string) => handlerDuration.labels({ group, topic }),
};
