// The names a projection's definition and its service derive from the read model's name.
import { camelOf, pascalOf, snakeOf } from '../names.ts';

/** invoices → invoicesProjection, INVOICES_TABLE, schema invoices_projection, app invoices-projection, GET /invoices/:id */
export function readModelOf(name: string) {
  return {
    name,
    pascal: pascalOf(name),
    camel: camelOf(name),
    constant: snakeOf(name).toUpperCase(),
    projection: `${name}-projection`,
    schema: `${snakeOf(name)}_projection`,
    table: snakeOf(name),
    route: `/${name}`,
  };
}
