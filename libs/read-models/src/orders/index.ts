export { ORDER_PROJECTION, orderProjection } from './definition';
export { applyOrderEvents, orderDocument, projectedTopics, toOrderEvent } from './read-model';
export type { OrderChange, OrderDocument } from './read-model';
export { createOrderTables, ORDER_SCHEMA } from './tables';
