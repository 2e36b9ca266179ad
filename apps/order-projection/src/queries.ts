import { isIdentifier } from '@tideline/contracts';
import type { OrderStatus, OrderView } from '@tideline/orders-domain';
import type { Pool } from 'pg';
import { ORDER_SCHEMA as SCHEMA, orderDocument, type OrderDocument } from '@tideline/read-models';

export interface CustomerSummaryDocument {
  customerId: string;
  counts: Record<OrderStatus, number>;
  /** Confirmed spend per currency, minor units. */
  confirmedSpendCents: Record<string, number>;
  updatedAt: string;
}

export interface OrderPage {
  items: OrderDocument[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** The opaque page cursor: the last order id of the page, base64url. */
export const encodeCursor = (orderId: string): string => Buffer.from(`o:${orderId}`).toString('base64url');

/** The order id of a cursor encodeCursor made; undefined for anything else (a forged id such as a NUL included). */
export function decodeCursor(cursor: string): string | undefined {
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!raw.startsWith('o:') || Buffer.from(raw).toString('base64url') !== cursor) return undefined;
  const orderId = raw.slice(2);
  return isIdentifier(orderId) ? orderId : undefined;
}

/** Reads of the read model (never writes: those are the projection's, in read-model.ts). */
export class OrderQueries {
  constructor(private readonly pool: Pool) {}

  async order(orderId: string): Promise<{ document: OrderDocument; seenEventIds: string[] } | undefined> {
    const { rows } = await this.pool.query<{ view: OrderView }>(
      `SELECT view FROM ${SCHEMA}.orders WHERE order_id = $1`,
      [orderId],
    );
    const view = rows[0]?.view;
    return view === undefined
      ? undefined
      : { document: orderDocument(view), seenEventIds: view.seenEventIds };
  }

  /** A customer's orders, newest first (order ids are UUIDv7), keyset-paginated. */
  async customerOrders(customerId: string, limit: number, after: string | undefined): Promise<OrderPage> {
    const { rows } = await this.pool.query<{ order_id: string; view: OrderView }>(
      after === undefined
        ? `SELECT order_id, view FROM ${SCHEMA}.orders WHERE customer_id = $1 ORDER BY order_id DESC LIMIT $2`
        : `SELECT order_id, view FROM ${SCHEMA}.orders WHERE customer_id = $1 AND order_id < $3 ORDER BY order_id DESC LIMIT $2`,
      after === undefined ? [customerId, limit + 1] : [customerId, limit + 1, after],
    );
    const page = rows.slice(0, limit);
    return {
      items: page.map((row) => orderDocument(row.view)),
      nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.order_id) : null,
    };
  }

  async customerSummary(customerId: string): Promise<CustomerSummaryDocument | undefined> {
    const { rows } = await this.pool.query<{
      pending: number;
      confirmed: number;
      cancelled: number;
      rejected: number;
      updated_at: Date;
      spend: Record<string, string> | null;
    }>(
      `SELECT s.pending, s.confirmed, s.cancelled, s.rejected, s.updated_at,
              (SELECT jsonb_object_agg(currency, confirmed_cents) FROM ${SCHEMA}.customer_spend
                WHERE customer_id = s.customer_id AND confirmed_cents <> 0) AS spend
       FROM ${SCHEMA}.customer_summaries s WHERE s.customer_id = $1`,
      [customerId],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      customerId,
      counts: {
        pending: row.pending,
        confirmed: row.confirmed,
        cancelled: row.cancelled,
        rejected: row.rejected,
      },
      confirmedSpendCents: Object.fromEntries(
        Object.entries(row.spend ?? {}).map(([c, v]) => [c, Number(v)]),
      ),
      updatedAt: row.updated_at.toISOString(),
    };
  }

  /** Orders by status over all customers, and how many customers have orders. */
  async totals(): Promise<{ orders: number; byStatus: Record<OrderStatus, number>; customers: number }> {
    const [counts, customers] = await Promise.all([
      this.pool.query<{ status: OrderStatus; orders: string }>(
        `SELECT status, orders FROM ${SCHEMA}.status_counts`,
      ),
      this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.customer_summaries`),
    ]);
    const byStatus: Record<OrderStatus, number> = { pending: 0, confirmed: 0, cancelled: 0, rejected: 0 };
    for (const row of counts.rows) byStatus[row.status] = Number(row.orders);
    const orders = Object.values(byStatus).reduce((sum, n) => sum + n, 0);
    return { orders, byStatus, customers: Number(customers.rows[0]?.n ?? 0) };
  }
}
