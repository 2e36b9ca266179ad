export { Hub } from './hub';
export type {
  ControlMessage,
  HubOptions,
  HubStats,
  Sink,
  StreamEvent,
  StreamSource,
  SubscriptionRequest,
} from './hub';
export { ConnectionLimiter, isRefusal } from './limits';
export type { ConnectionLimits, ConnectionRefusal, ConnectionSlot } from './limits';
export { parseAllowedOrigins, refusedOrigin } from './origin';
export type { OriginPolicy } from './origin';
export { openSse, resumePoint } from './sse';
export type { SseOptions } from './sse';
export { CLOSE_SLOW_CONSUMER, UNREAD_REPLIES_REASON, attachWebSocket, parseClientMessage } from './websocket';
export type { FeedResolver, UpgradeRefusal, WebSocketOptions } from './websocket';
