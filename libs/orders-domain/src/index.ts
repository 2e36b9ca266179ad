export { decidePlacement } from './placement';
export type { Catalog, CatalogProduct, PlacementDecision, PricingPolicy, RejectionCode } from './placement';
export { emptyOrder, evolveOrder, STATUS_PRECEDENCE } from './order-view';
export type { OrderEvent, OrderStatus, OrderView, TimelineEntry } from './order-view';
export { summarize, summaryDelta } from './customer-summary';
export type { CustomerSummary } from './customer-summary';
