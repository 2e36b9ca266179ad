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
export { openSse, resumePoint } from './sse';
export type { SseOptions } from './sse';
export { CLOSE_SLOW_CONSUMER, attachWebSocket, parseClientMessage } from './websocket';
export type { FeedResolver, WebSocketOptions } from './websocket';
