// A client of a node's event stream (GET /api/v1/events, server-sent events)
// for tests: it keeps every message it reads, parsed, until closed.
export interface StreamMessage {
  type: string;
  data: any;
}

export interface FollowedStream {
  readonly messages: StreamMessage[];
  close(): void;
}

export async function followEvents(url: string, user = "viewer"): Promise<FollowedStream> {
  const stop = new AbortController();
  const r = await fetch(`${url}/api/v1/events`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${user}`).toString("base64")}` }, signal: stop.signal });
  if (r.status !== 200 || !r.body) throw new Error(`GET /api/v1/events answered ${r.status}`);
  const messages: StreamMessage[] = [];
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        for (let end = buf.indexOf("\n\n"); end >= 0; end = buf.indexOf("\n\n")) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data !== undefined) messages.push({ type, data: JSON.parse(data) });
        }
      }
    } catch {
      /* closed */
    }
  })();
  return { messages, close: () => stop.abort() };
}
