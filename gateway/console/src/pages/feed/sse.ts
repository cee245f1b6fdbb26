// A Server-Sent Events parser for streams read with fetch: EventSource
// cannot send an Authorization header, and the API key never goes into a
// URL. It follows the HTML event-stream grammar (lines ending in CRLF, LF or
// CR; "field: value" with one leading space dropped; comments; a blank line
// dispatches), with text decoded by the caller (TextDecoderStream).

export interface SSEMessage {
  /** the last id seen on the stream (ids carry over until a new one) */
  id: string;
  /** the event field, "message" when not given */
  event: string;
  /** the data lines joined by "\n" */
  data: string;
}

export class SSEParser {
  private buf = '';
  private started = false;
  // A chunk ending in CR may be the first half of a CRLF.
  private skipLF = false;
  private data: string[] = [];
  private event = '';
  private lastId = '';

  /** retry is the reconnection delay the server asked for (ms), or null. */
  retry: number | null = null;

  /**
   * push parses the next decoded piece of the stream and calls onMessage
   * for each complete event and onComment for each comment line.
   */
  push(text: string, onMessage: (m: SSEMessage) => void, onComment?: (c: string) => void) {
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const s = this.buf + text;
    let i = 0;
    if (this.skipLF && s.startsWith('\n')) i = 1;
    this.skipLF = false;
    for (;;) {
      let j = i;
      while (j < s.length && s[j] !== '\n' && s[j] !== '\r') j++;
      if (j === s.length) break; // no line end yet: keep the rest
      const line = s.slice(i, j);
      if (s[j] === '\r') {
        if (j + 1 === s.length) this.skipLF = true;
        else if (s[j + 1] === '\n') j++;
      }
      i = j + 1;
      this.line(line, onMessage, onComment);
    }
    this.buf = s.slice(i);
  }

  /** lastEventId is the id to resume after (the Last-Event-ID header). */
  get lastEventId(): string {
    return this.lastId;
  }

  private line(line: string, onMessage: (m: SSEMessage) => void, onComment?: (c: string) => void) {
    if (line === '') {
      this.dispatch(onMessage);
      return;
    }
    if (line[0] === ':') {
      onComment?.(line.slice(1).replace(/^ /, ''));
      return;
    }
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value[0] === ' ') value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      // Other fields are ignored, as the grammar says.
    }
  }

  private dispatch(onMessage: (m: SSEMessage) => void) {
    const data = this.data;
    const event = this.event;
    this.data = [];
    this.event = '';
    // An event without data lines is not dispatched (an id alone still counts).
    if (data.length === 0) return;
    onMessage({ id: this.lastId, event: event || 'message', data: data.join('\n') });
  }
}
