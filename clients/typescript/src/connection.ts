/** One WebSocket of the client: requests matched to their replies by id.
 * The session makes one per login; when it drops, every request waiting on
 * it fails with `ConnectionLost` and goes out again on the next one. */
import { ConnectionLost, RequestTimeoutError, TidingsError } from "./errors.js";

/** What the SDK needs of a WebSocket: the browser's, Node 22's global, or
 * the `ws` package's (Node 20). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}
export type WebSocketClass = new (url: string) => WebSocketLike;

const OPEN = 1;

interface Waiting {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  handler(data: unknown): unknown;
  settled: boolean;
}

/** Opens a socket; rejects when it fails or takes longer than `timeoutMs`. */
export function openSocket(Socket: WebSocketClass, url: string, timeoutMs: number
): Promise<WebSocketLike> {
  return new Promise((resolve, reject) => {
    let ws: WebSocketLike;
    try {
      ws = new Socket(url);
    } catch (error) {
      reject(error);
      return;
    }
    const timer = setTimeout(() => {
      ws.onopen = ws.onclose = ws.onerror = null;
      ws.close();
      reject(new RequestTimeoutError(`no connection to ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.onopen = () => { clearTimeout(timer); resolve(ws); };
    ws.onerror = ws.onclose = () => {
      clearTimeout(timer);
      reject(new ConnectionLost(`could not connect to ${url}`));
    };
  });
}

export class Connection {
  lastHeard = Date.now();
  lastPing = 0;
  lost = false;
  /** Settles when the socket is gone (closed by either side, or dropped). */
  readonly ended: Promise<void>;
  private endIt!: () => void;
  private nextId = 1;
  // Handlers run as the reply is read, in order with the events around it,
  // even when the caller stopped waiting (an ack still counts).
  private readonly waiting = new Map<number, Waiting>();

  constructor(readonly ws: WebSocketLike,
              private readonly onEvent: (event: string, data: unknown) => boolean) {
    this.ended = new Promise((resolve) => { this.endIt = resolve; });
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = ws.onerror = () => this.drop();
  }

  /** Sends a request; resolves with `handler(reply data)`. */
  request<T>(op: string, data: unknown, handler: (data: unknown) => T, timeoutMs: number
  ): Promise<T> {
    if (this.ws.readyState !== OPEN) {
      // Closing (the server's FIN read, its close event not yet fired): lost
      // now. A caller retrying on ConnectionLost then waits for the next
      // connection; meeting this one again would loop on microtasks alone
      // and starve the very event that ends it (a hang seen in the cluster test).
      this.drop();
    }
    if (this.lost) return Promise.reject(new ConnectionLost());
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = { resolve: resolve as (v: unknown) => void, reject, handler, settled: false };
      this.waiting.set(id, entry);
      const timer = setTimeout(() => {
        if (entry.settled) return;
        entry.settled = true;
        reject(new RequestTimeoutError(`no answer to "${op}" within ${Math.round(timeoutMs)} ms`));
      }, timeoutMs);
      const settle = (fn: (v: unknown) => void) => (value: unknown) => {
        clearTimeout(timer);
        if (!entry.settled) { entry.settled = true; fn(value); }
      };
      entry.resolve = settle(entry.resolve);
      entry.reject = settle(entry.reject);
      try {
        this.ws.send(JSON.stringify({ op, id, data }));
      } catch {
        this.waiting.delete(id);
        entry.reject(new ConnectionLost());
        this.drop(); // as above: the next try must wait for another connection
      }
    });
  }

  /** Sends a frame that has no reply (pong, ping). */
  post(op: string): void {
    if (!this.lost && this.ws.readyState === OPEN) this.ws.send(JSON.stringify({ op }));
  }

  close(): void {
    this.drop();
    try { this.ws.close(); } catch { /* closed already */ }
  }

  drop(): void {
    if (this.lost) return;
    this.lost = true;
    this.ws.onmessage = null;
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const entry of waiting) entry.reject(new ConnectionLost());
    this.endIt();
  }

  private receive(raw: unknown): void {
    if (this.lost) return;
    this.lastHeard = Date.now();
    let doc: unknown;
    try {
      doc = JSON.parse(String(raw));
    } catch {
      return; // not JSON: nothing to match it to
    }
    if (typeof doc !== "object" || doc === null) return;
    const frame = doc as Record<string, unknown>;
    if (typeof frame.event === "string") {
      let keep: boolean;
      try {
        keep = this.onEvent(frame.event, frame.data);
      } catch {
        keep = false; // a malformed event: resync rather than guess
      }
      if (!keep) this.close();
      return;
    }
    const id = frame.re;
    const entry = typeof id === "number" ? this.waiting.get(id) : undefined;
    if (entry === undefined || typeof id !== "number") return;
    this.waiting.delete(id);
    if (frame.ok !== true) {
      entry.reject(TidingsError.from(frame.error));
      return;
    }
    let result: unknown;
    try {
      result = entry.handler(frame.data);
    } catch (error) {
      entry.reject(error);
      return;
    }
    entry.resolve(result);
  }
}
