import type {
  OrderCancelled,
  OrderConfirmed,
  OrderPlaced,
  OrderRejected,
  RejectionReason,
} from '@tideline/contracts';

/** Where an order stands, as far as the events seen so far tell. */
export type OrderStatus = 'pending' | 'confirmed' | 'rejected' | 'cancelled';

/**
 * The order of statuses in the join-semilattice that makes {@link evolveOrder} converge: an order's
 * status is the highest-precedence status among the events seen, whatever order they came in.
 * `pending` 0 < `confirmed` 1 < `cancelled` 2 < `rejected` 3, so a rejected order stays rejected even
 * if a cancellation arrives, and a cancellation before or after the confirmation leaves it cancelled.
 */
export const STATUS_PRECEDENCE: Readonly<Record<OrderStatus, number>> = Object.freeze({
  pending: 0,
  confirmed: 1,
  cancelled: 2,
  rejected: 3,
});

/** One order event as the projection hands it over: the decoded value with its envelope's id and time. */
export type OrderEvent =
  | { type: 'OrderPlaced'; eventId: string; at: number; value: OrderPlaced }
  | { type: 'OrderConfirmed'; eventId: string; at: number; value: OrderConfirmed }
  | { type: 'OrderRejected'; eventId: string; at: number; value: OrderRejected }
  | { type: 'OrderCancelled'; eventId: string; at: number; value: OrderCancelled };

/** One event in an order's history. */
export interface TimelineEntry {
  /** The status this event stands for (not the order's status after it). */
  status: OrderStatus;
  eventId: string;
  eventType: OrderEvent['type'];
  /** The event's time, epoch milliseconds UTC. */
  at: number;
}

/**
 * The read model of one order. Built only by {@link evolveOrder} from {@link emptyOrder}, it is the
 * same for every order (and repetition) in which the same set of events arrives. Fields whose event
 * has not been seen yet are `null` (or empty).
 */
export interface OrderView {
  orderId: string;
  customerId: string | null;
  currency: string | null;
  /** As ordered, same SKUs not merged; the prices are `null` until an OrderConfirmed was seen. */
  lines: { sku: string; quantity: number; unitPriceCents: number | null; lineTotalCents: number | null }[];
  /** From OrderConfirmed only. */
  totalCents: number | null;
  status: OrderStatus;
  /** From OrderRejected only. */
  reasons: RejectionReason[];
  /** From OrderCancelled only; also `null` when the customer gave no reason. */
  cancelReason: string | null;
  /** From OrderPlaced only. */
  placedAt: number | null;
  /** One entry per distinct event, sorted by (`at`, `eventId`). */
  timeline: TimelineEntry[];
  /** The ids of the events applied, sorted; a repeated id is ignored. */
  seenEventIds: string[];
}

/** The view of an order no event has been seen for: `pending`, nothing known but its id. */
export function emptyOrder(orderId: string): OrderView {
  return {
    orderId,
    customerId: null,
    currency: null,
    lines: [],
    totalCents: null,
    status: 'pending',
    reasons: [],
    cancelReason: null,
    placedAt: null,
    timeline: [],
    seenEventIds: [],
  };
}

const STATUS_OF_EVENT: Readonly<Record<OrderEvent['type'], OrderStatus>> = {
  OrderPlaced: 'pending',
  OrderConfirmed: 'confirmed',
  OrderRejected: 'rejected',
  OrderCancelled: 'cancelled',
};

type EventType = OrderEvent['type'];

/**
 * Which events may supply each field, best first. Among several events of the best type present,
 * the earliest by (`at`, `eventId`) supplies it. A field's value is thus a function of the set of
 * events seen, never of their arrival order.
 */
const SOURCES = {
  customerId: ['OrderPlaced', 'OrderConfirmed', 'OrderRejected'],
  currency: ['OrderPlaced', 'OrderConfirmed'],
  // Confirmed lines are the placed lines with their prices, so they win over unpriced placed lines.
  lines: ['OrderConfirmed', 'OrderPlaced'],
  placedAt: ['OrderPlaced'],
  totalCents: ['OrderConfirmed'],
  reasons: ['OrderRejected'],
  cancelReason: ['OrderCancelled'],
} as const satisfies Record<string, readonly EventType[]>;

/**
 * Applies one order event to an order's view and returns the new view (the given one is not
 * changed). An event whose id was already applied returns `state` itself, so redelivery is harmless.
 *
 * Converges: the result depends only on the set of distinct events applied, not on their order.
 * - `status` is the join (highest {@link STATUS_PRECEDENCE}) of the events' statuses.
 * - `customerId`, `currency`, `lines` and `placedAt` come from OrderPlaced; while it has not
 *   arrived, from OrderConfirmed (`customerId`, `currency`, priced `lines`) or OrderRejected
 *   (`customerId`). Lines priced by OrderConfirmed win over OrderPlaced's unpriced lines whichever
 *   came first.
 * - `totalCents` comes from OrderConfirmed, `reasons` from OrderRejected, `cancelReason` from
 *   OrderCancelled.
 * - If several events of one type were seen (a decision repeated under a new id), the earliest
 *   by (`at`, `eventId`) supplies the fields: the first decision stands.
 * - `timeline` and `seenEventIds` are sorted sets.
 *
 * @throws RangeError when the event is about another order: a bug in the caller's routing.
 */
export function evolveOrder(state: OrderView, event: OrderEvent): OrderView {
  if (event.value.orderId !== state.orderId) {
    throw new RangeError(
      `${event.type} ${event.eventId} is about order ${event.value.orderId}, not ${state.orderId}`,
    );
  }
  if (state.seenEventIds.includes(event.eventId)) return state;

  const entry: TimelineEntry = {
    status: STATUS_OF_EVENT[event.type],
    eventId: event.eventId,
    eventType: event.type,
    at: event.at,
  };
  const supplies = (field: keyof typeof SOURCES): boolean =>
    suppliesField(SOURCES[field], entry, state.timeline);

  const next: OrderView = {
    ...state,
    status: joinStatus(state.status, entry.status),
    timeline: insertSorted(state.timeline, entry, compareEntries),
    seenEventIds: insertSorted(state.seenEventIds, event.eventId, compareStrings),
  };

  switch (event.type) {
    case 'OrderPlaced': {
      const placed = event.value;
      if (supplies('customerId')) next.customerId = placed.customerId;
      if (supplies('currency')) next.currency = placed.currency;
      if (supplies('placedAt')) next.placedAt = placed.placedAt;
      if (supplies('lines')) {
        next.lines = placed.lines.map((line) => ({
          sku: line.sku,
          quantity: line.quantity,
          unitPriceCents: null,
          lineTotalCents: null,
        }));
      }
      break;
    }
    case 'OrderConfirmed': {
      const confirmed = event.value;
      if (supplies('customerId')) next.customerId = confirmed.customerId;
      if (supplies('currency')) next.currency = confirmed.currency;
      if (supplies('totalCents')) next.totalCents = confirmed.totalCents;
      if (supplies('lines')) {
        next.lines = confirmed.lines.map((line) => ({
          sku: line.sku,
          quantity: line.quantity,
          unitPriceCents: line.unitPriceCents,
          lineTotalCents: line.lineTotalCents,
        }));
      }
      break;
    }
    case 'OrderRejected': {
      const rejected = event.value;
      if (supplies('customerId')) next.customerId = rejected.customerId;
      if (supplies('reasons')) next.reasons = rejected.reasons.map((reason) => ({ ...reason }));
      break;
    }
    case 'OrderCancelled': {
      if (supplies('cancelReason')) next.cancelReason = event.value.reason;
      break;
    }
  }
  return next;
}

function joinStatus(a: OrderStatus, b: OrderStatus): OrderStatus {
  return STATUS_PRECEDENCE[b] > STATUS_PRECEDENCE[a] ? b : a;
}

/** Whether `entry` outranks every event already seen that may supply the field. */
function suppliesField(
  sources: readonly EventType[],
  entry: TimelineEntry,
  seen: readonly TimelineEntry[],
): boolean {
  const rank = sources.indexOf(entry.eventType);
  if (rank < 0) return false;
  return seen.every((other) => {
    const otherRank = sources.indexOf(other.eventType);
    return otherRank < 0 || rank < otherRank || (rank === otherRank && compareEntries(entry, other) < 0);
  });
}

function compareEntries(a: TimelineEntry, b: TimelineEntry): number {
  return a.at - b.at || compareStrings(a.eventId, b.eventId);
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function insertSorted<T>(items: readonly T[], item: T, compare: (a: T, b: T) => number): T[] {
  const index = items.findIndex((existing) => compare(item, existing) < 0);
  return index < 0 ? [...items, item] : [...items.slice(0, index), item, ...items.slice(index)];
}
