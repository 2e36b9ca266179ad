export { freePort, probeInfra, testInfra } from './infra';
export type { ProbeResult, TestInfra } from './infra';
export { TestTopics, isolatedTopic, readRecords, recordsWithKey, testKafka } from './kafka';
export type { ReadRecord } from './kafka';
export { uniqueName, uniqueTopicName } from './names';
export { eventually } from './poll';
export { runCli } from './cli';
export type { CliResult } from './cli';
