/** One server-sent event as received. */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** A live SSE connection that collects what it receives. */
export interface SseClient {
  events: SseEvent[];
  /** Resolves once the server ended the stream (or `close` was called). */
  ended: Promise<void>;
  status: number;
  headers: Headers;
  close(): void;
}

/**
 * Opens `url` as an event stream (the way EventSource reads it: `id`, `event`, `data`
 * fields, blank line ends an event) and collects the events.
 */
export async function openSseClient(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  const body = response.body;
  const ended = (async () => {
    if (body === null) return;
    const decoder = new TextDecoder();
    let buffer = '';
    let current: { id?: string; event?: string; data: string[] } = { data: [] };
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, '');
          buffer = buffer.slice(newline + 1);
          if (line === '') {
            if (current.data.length > 0)
              events.push({
                id: current.id,
                event: current.event ?? 'message',
                data: current.data.join('\n'),
              });
            current = { data: [] };
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') current.data.push(value);
          else if (field === 'id') current.id = value;
          else if (field === 'event') current.event = value;
        }
      }
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    }
  })();
  return {
    events,
    ended,
    status: response.status,
    headers: response.headers,
    close: () => controller.abort(),
  };
}
