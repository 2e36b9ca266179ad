export { IDENTIFIER_PATTERN, isIdentifier } from './identifiers';
export { defineTopic } from './topic';
export type { CleanupPolicy, TopicDescriptor, TopicSpec, ValueOf } from './topic';
export * from './generated/types';
export * from './generated/schemas';
export * from './generated/topics';
