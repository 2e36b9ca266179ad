// The sales projection written the row-by-row way, for bench:rebuild to compare with its
// batched apply: the same fold, algorithm and tables, but one statement per row read or
// written instead of a few per batch. Statements are prepared (named), the fastest way to send
// one statement at a time.
import type { ProjectionBatch, ProjectionRecord } from '@tideline/messaging';
import type { FeedChange } from '@tideline/projections';
import {
  emptyOrderSales,
  evolveSales,
  HOURLY_TABLE,
  ORDER_SALES_TABLE,
  SalesDeltas,
  type OrderSales,
  type SalesEvent,
} from '@tideline/read-models';
import type { PoolClient } from 'pg';

interface Row {
  confirmed_event_id: string | null;
  confirmed_at: Date | null;
  currency: string | null;
  lines: NonNullable<OrderSales['confirmation']>['lines'] | null;
  cancelled: boolean;
  rejected: boolean;
}

function stateOf(orderId: string, row: Row | undefined): OrderSales {
  if (row === undefined) return emptyOrderSales(orderId);
  const { confirmed_event_id: eventId, confirmed_at: at, currency, lines } = row;
  return {
    orderId,
    confirmation:
      eventId === null || at === null || currency === null || lines === null
        ? null
        : { eventId, at: at.getTime(), currency, lines },
    cancelled: row.cancelled,
    rejected: row.rejected,
  };
}

/**
 * An `apply` for the projection store that does the sales projection one row at a time, with
 * the batched apply's algorithm: per event, insert its order's row as if new (or lock it), and
 * when it existed read it and write it back; then one upsert per bucket it changes, and a
 * delete for a bucket that dropped to nothing.
 */
export function rowByRowApply(read: (record: ProjectionRecord) => SalesEvent | undefined) {
  return async (client: PoolClient, batch: ProjectionBatch, schema: string): Promise<FeedChange[]> => {
    const orders = `${schema}.${ORDER_SALES_TABLE}`;
    const hourly = `${schema}.${HOURLY_TABLE}`;
    const values = (state: OrderSales) => [
      state.orderId,
      state.confirmation?.eventId ?? null,
      state.confirmation ? new Date(state.confirmation.at).toISOString() : null,
      state.confirmation?.currency ?? null,
      state.confirmation ? JSON.stringify(state.confirmation.lines) : null,
      state.cancelled,
      state.rejected,
    ];
    for (const record of batch.records) {
      const event = read(record);
      if (event === undefined) continue;
      const orderId = event.value.orderId;
      const deltas = new SalesDeltas();
      const fresh = evolveSales(emptyOrderSales(orderId), event);
      const inserted = await client.query({
        name: `${schema}-insert`,
        text: `INSERT INTO ${orders} AS o (order_id, confirmed_event_id, confirmed_at, currency, lines, cancelled, rejected)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (order_id) DO UPDATE SET order_id = o.order_id WHERE false
               RETURNING order_id`,
        values: values(fresh),
      });
      if (inserted.rowCount === 1) deltas.change(emptyOrderSales(orderId), fresh);
      else {
        const { rows } = await client.query<Row>({
          name: `${schema}-read`,
          text: `SELECT confirmed_event_id, confirmed_at, currency, lines, cancelled, rejected
                 FROM ${orders} WHERE order_id = $1`,
          values: [orderId],
        });
        const before = stateOf(orderId, rows[0]);
        const after = evolveSales(before, event);
        if (after === before) continue;
        await client.query({
          name: `${schema}-write`,
          text: `UPDATE ${orders} SET confirmed_event_id = $2, confirmed_at = $3, currency = $4, lines = $5,
                   cancelled = $6, rejected = $7
                 WHERE order_id = $1`,
          values: values(after),
        });
        deltas.change(before, after);
      }
      for (const d of deltas.entries()) {
        const hour = new Date(d.hour).toISOString();
        const { rows } = await client.query<{ empty: boolean }>({
          name: `${schema}-add`,
          text: `INSERT INTO ${hourly} AS h (sku, hour, currency, units, revenue_cents, orders)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (sku, hour, currency) DO UPDATE SET units = h.units + EXCLUDED.units,
                   revenue_cents = h.revenue_cents + EXCLUDED.revenue_cents, orders = h.orders + EXCLUDED.orders
                 RETURNING units = 0 AND revenue_cents = 0 AND orders = 0 AS empty`,
          values: [d.sku, hour, d.currency, d.units, d.revenueCents, d.orders],
        });
        if (rows[0]?.empty) {
          await client.query({
            name: `${schema}-drop`,
            text: `DELETE FROM ${hourly} WHERE sku = $1 AND hour = $2 AND currency = $3`,
            values: [d.sku, hour, d.currency],
          });
        }
      }
    }
    return [];
  };
}
