import type { ProjectionDefinition } from '@tideline/projections';
import { applyOrderEvents, projectedTopics } from './read-model';
import { createOrderTables, ORDER_SCHEMA } from './tables';

/** The order projection's name: its default consumer group and the key of its positions and change feed. */
export const ORDER_PROJECTION = 'order-projection';

/**
 * The order projection: one row per order (the OrderView), customer summaries and spend,
 * counts per status. `updated_at` columns hold wall-clock times and are not compared by a rebuild.
 */
export const orderProjection: ProjectionDefinition = {
  name: ORDER_PROJECTION,
  schema: ORDER_SCHEMA,
  topics: projectedTopics,
  tables: [
    {
      name: 'orders',
      key: ['order_id'],
      compared: [
        'order_id',
        'customer_id',
        'status',
        'currency',
        'total_cents',
        'placed_at',
        'events',
        'view',
      ],
    },
    {
      name: 'customer_summaries',
      key: ['customer_id'],
      compared: ['customer_id', 'pending', 'confirmed', 'cancelled', 'rejected'],
    },
    {
      name: 'customer_spend',
      key: ['customer_id', 'currency'],
      compared: ['customer_id', 'currency', 'confirmed_cents'],
    },
    { name: 'status_counts', key: ['status'], compared: ['status', 'orders'] },
  ],
  createTables: createOrderTables,
  apply: applyOrderEvents,
};
