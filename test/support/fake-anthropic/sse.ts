/**
 * Server-sent event framing as the real API sends it: every event has an
 * `event:` line (the SDK drops events without one) and a one-line `data:`.
 */
export function formatSseEvent(eventName: string, data: string): string {
  return `event: ${eventName}\ndata: ${data}\n\n`;
}

export function formatJsonSseEvent<Event extends { type: string }>(event: Event): string {
  return formatSseEvent(event.type, JSON.stringify(event));
}
