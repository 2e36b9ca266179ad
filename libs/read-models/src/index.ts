// One directory per read model: its projection definition, pure fold and queries.
import type { ProjectionDefinition } from '@tideline/projections';
import { orderProjection } from './orders';
import { salesProjection } from './sales';

export * from './orders';
export * from './sales';

/** Every projection by name, as `tideline projection status|rebuild <name>` knows them. */
export const projectionDefinitions: Readonly<Record<string, ProjectionDefinition>> = {
  [orderProjection.name]: orderProjection,
  'sales-projection': salesProjection(),
};
