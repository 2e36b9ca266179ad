export {
  HOURLY_TABLE,
  ORDER_SALES_TABLE,
  SALES_PROJECTION,
  SALES_SCHEMA,
  addHourlySales,
  applySalesBatch,
  createSalesTables,
  insertOrLockOrderSales,
  readOrderSales,
  renamedSalesTopics,
  salesEventReader,
  salesProjection,
  salesTopics,
  writeOrderSales,
} from './definition';
export type { SalesProjectionDefinition, SalesProjectionOptions, SalesTopics } from './definition';
export {
  HOUR_MS,
  SalesDeltas,
  compareStrings,
  contribution,
  counts,
  emptyOrderSales,
  evolveSales,
  hourOf,
} from './fold';
export type { Confirmation, HourlySales, OrderSales, SalesEvent, SoldLine } from './fold';
export { SalesQueries } from './queries';
export type { HourOfSales, ProductSales, TopProduct } from './queries';
