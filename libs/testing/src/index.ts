export { freePort, probeInfra, testInfra } from './infra';
export type { ProbeResult, TestInfra } from './infra';
export {
  TestTopics,
  isolatedTopic,
  findRecord,
  readRecords,
  readFrom,
  readToEnd,
  recordsWithKey,
  startGroupAtEnd,
  testKafka,
  topicEnds,
} from './kafka';
export type { ReadRecord } from './kafka';
export { uniqueName, uniqueTopicName } from './names';
export { sampleOrder } from './orders';
export { eventually } from './poll';
export { fuzzOpenApi } from './fuzz';
export type { FuzzOptions, FuzzReport, OpenApiDocument } from './fuzz';
export { createTestDatabase } from './database';
export type { TestDatabase } from './database';
export { runCli } from './cli';
export type { CliResult } from './cli';
export { startService } from './service';
export type { ServiceProcess } from './service';
export { openSseClient } from './sse';
export type { SseClient, SseEvent } from './sse';
export { Scrape, scrapeMetrics } from './metrics';
export type { MetricFamily, Sample } from './metrics';
export { startPrivatePostgres } from './faults/postgres';
export type { PrivatePostgres } from './faults/postgres';
export { TcpFaultProxy, startTcpProxy } from './faults/tcp-proxy';
export type { ProxyMode, ProxyStats } from './faults/tcp-proxy';
export { startKafkaCluster } from './faults/kafka-cluster';
export type { ClusterBroker, KafkaCluster } from './faults/kafka-cluster';
export { chromiumArgs, chromiumExecutable } from './browser';
export type { ChromiumBinary } from './browser';
export { startPrivateRegistry } from './faults/registry';
export type { PrivateRegistry } from './faults/registry';
export { driveOrders } from './faults/load-driver';
export type { DrivenOrder, LoadOptions, LoadReport } from './faults/load-driver';
export { runKafkaTool } from './faults/kafka-tools';
