import type { Pool } from 'pg';
import { HOURLY_TABLE, SALES_SCHEMA } from './definition';

/** One hour of a product's sales. */
export interface HourOfSales {
  /** Start of the hour, ISO 8601 UTC. */
  hour: string;
  units: number;
  /** Orders that sold the product in that hour. */
  orders: number;
  /** Revenue per currency, minor units. */
  revenueCents: Record<string, number>;
}

export interface ProductSales {
  sku: string;
  from: string;
  to: string;
  /** The hours with sales, oldest first (hours without sales are left out). */
  hours: HourOfSales[];
  total: Omit<HourOfSales, 'hour'>;
}

export interface TopProduct {
  sku: string;
  units: number;
  orders: number;
  revenueCents: Record<string, number>;
}

interface BucketRow {
  hour: Date;
  currency: string;
  units: string;
  orders: number;
  revenue_cents: string;
}

function addRevenue(revenue: Record<string, number>, currency: string, cents: number): void {
  revenue[currency] = (revenue[currency] ?? 0) + cents;
}

/**
 * Reads of the sales read model (never writes: those are the projection's). Reads the view
 * schema, so a rebuild's swap changes what they see at once.
 */
export class SalesQueries {
  constructor(
    private readonly pool: Pool,
    private readonly schema: string = SALES_SCHEMA,
  ) {}

  /** A product's sales per hour, for the hours that overlap [from, to). */
  async productSales(sku: string, from: Date, to: Date): Promise<ProductSales> {
    const { rows } = await this.pool.query<BucketRow>(
      `SELECT hour, currency, units, orders, revenue_cents FROM ${this.schema}.${HOURLY_TABLE}
       WHERE sku = $1 AND hour > $2::timestamptz - interval '1 hour' AND hour < $3 ORDER BY hour, currency`,
      [sku, from, to],
    );
    const hours: HourOfSales[] = [];
    const total: Omit<HourOfSales, 'hour'> = { units: 0, orders: 0, revenueCents: {} };
    for (const row of rows) {
      const hour = row.hour.toISOString();
      let entry = hours[hours.length - 1];
      if (entry?.hour !== hour) {
        entry = { hour, units: 0, orders: 0, revenueCents: {} };
        hours.push(entry);
      }
      const units = Number(row.units);
      const cents = Number(row.revenue_cents);
      entry.units += units;
      entry.orders += row.orders;
      addRevenue(entry.revenueCents, row.currency, cents);
      total.units += units;
      total.orders += row.orders;
      addRevenue(total.revenueCents, row.currency, cents);
    }
    return { sku, from: from.toISOString(), to: to.toISOString(), hours, total };
  }

  /** The products that sold the most units in the hours that overlap [from, to), most first (ties by SKU). */
  async topProducts(from: Date, to: Date, limit: number): Promise<TopProduct[]> {
    const { rows } = await this.pool.query<{
      sku: string;
      units: string;
      orders: string;
      revenue: Record<string, string>;
    }>(
      `WITH per_currency AS (
         SELECT sku, currency, sum(units) AS units, sum(orders) AS orders, sum(revenue_cents) AS revenue
         FROM ${this.schema}.${HOURLY_TABLE} WHERE hour > $1::timestamptz - interval '1 hour' AND hour < $2
         GROUP BY sku, currency
       )
       SELECT sku, sum(units) AS units, sum(orders) AS orders,
              jsonb_object_agg(currency, revenue::text) AS revenue
       FROM per_currency GROUP BY sku
       ORDER BY sum(units) DESC, sku COLLATE "C" LIMIT $3`,
      [from, to, limit],
    );
    return rows.map((row) => ({
      sku: row.sku,
      units: Number(row.units),
      orders: Number(row.orders),
      revenueCents: Object.fromEntries(Object.entries(row.revenue).map(([c, v]) => [c, Number(v)])),
    }));
  }
}
