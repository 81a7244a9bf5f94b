/** The client's options, checked when it is made: a wrong one throws an
 * `InvalidArgumentError` at once rather than failing later on the wire. */
import type { WebSocketClass } from "./connection.js";
import { InvalidArgumentError } from "./errors.js";
import type { KnownStore } from "./known-store.js";

export interface ClientOptions {
  /** `ws(s)://host/v1/ws`, or several: the processes of a cluster
   * (docs/cluster.md), tried in the order given, the next one after a failed
   * or dropped connection. */
  url: string | readonly string[];
  sdkappid: number;
  userId: string;
  /** A ticket signed by the app's server. */
  userSig?: string;
  /** Fetches a fresh ticket from the app's server: called when there is
   * none and when the server refuses the one held (expired, revoked). */
  getUserSig?: () => string | Promise<string>;
  /** A WebSocket class: the global one by default (browsers, Node 22+); in
   * Node 20 pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketClass;
  deviceId?: string;
  platform?: string;
  /** Resume from a map saved from `client.known`: without it the first sync
   * brings each conversation's newest messages (older ones via `history`). */
  known?: Record<string, number>;
  /** Keeps `known` across runs (page reloads): loaded before the first sync
   * (unless `known` is given), saved after each change. `LocalStorageKnownStore`
   * in a browser; any object with `load` and `save` (known-store.ts). */
  knownStore?: KnownStore;
  /** Milliseconds. */
  requestTimeout?: number;
  sendTimeout?: number;
  connectTimeout?: number;
  backoffInitial?: number;
  backoffMax?: number;
  /** How long a live entry that came past a gap waits for the missing one
   * before the client resyncs (ms; 0: at once). In a cluster two
   * processes' entries of one conversation may cross on their way. */
  gapWait?: number;
}

/** The URLs of `url`, checked: one or more `ws(s)://` URLs. */
export function checkUrls(url: unknown): readonly string[] {
  const urls: unknown[] = typeof url === "string" ? [url] : Array.isArray(url) ? [...url] : [url];
  if (urls.length === 0) throw new InvalidArgumentError("url: give at least one URL");
  for (const one of urls) {
    if (typeof one !== "string" || !/^wss?:\/\//.test(one)) {
      throw new InvalidArgumentError(`url must be a ws:// or wss:// URL, not ${JSON.stringify(one)}`);
    }
  }
  return Object.freeze(urls as string[]);
}

/** The required options, checked, with the URLs and the WebSocket class to use. */
export function checkOptions(options: ClientOptions
): ClientOptions & { urls: readonly string[]; Socket: WebSocketClass } {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("new Client(options): options must be an object");
  }
  const { sdkappid, userId, userSig, getUserSig } = options;
  const urls = checkUrls(options.url);
  if (!Number.isSafeInteger(sdkappid) || sdkappid <= 0) {
    throw new InvalidArgumentError(`sdkappid must be a positive integer, not ${JSON.stringify(sdkappid)}`);
  }
  if (typeof userId !== "string" || userId === "") {
    throw new InvalidArgumentError("userId must be a non-empty string");
  }
  if (userSig === undefined && getUserSig === undefined) {
    throw new InvalidArgumentError("give userSig or getUserSig (or both)");
  }
  if (userSig !== undefined && typeof userSig !== "string") {
    throw new InvalidArgumentError("userSig must be a string");
  }
  if (getUserSig !== undefined && typeof getUserSig !== "function") {
    throw new InvalidArgumentError("getUserSig must be a function");
  }
  const store = options.knownStore;
  if (store !== undefined && (typeof store?.load !== "function" || typeof store?.save !== "function")) {
    throw new InvalidArgumentError("knownStore must have load(scope) and save(scope, known)");
  }
  const Socket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketClass }).WebSocket;
  if (Socket === undefined) {
    throw new InvalidArgumentError(
      "no WebSocket here: pass one (in Node 20: `import { WebSocket } from \"ws\"`)");
  }
  return { ...options, urls, Socket };
}

/** A random id (device ids): 32 hex digits. */
export function randomId(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID().replaceAll("-", "");
  return randomHex(32);
}

/** A client message id: 32 hex digits, the milliseconds since the epoch
 * (12) then 80 random bits (20), so one client's ids rise with time. The
 * server keeps a sender's ids in one b-tree for the idempotent resend: a
 * rising id lands on the sender's last page, a random one on any page of
 * their history (~25 % more of the server's CPU a message at saturation,
 * bench/journal/perf-sat.md; the Python SDK makes the same shape). */
export function risingId(): string {
  return Date.now().toString(16).padStart(12, "0") + randomHex(20);
}

function randomHex(digits: number): string {
  const c = globalThis.crypto;
  if (c?.getRandomValues) {
    const bytes = c.getRandomValues(new Uint8Array(Math.ceil(digits / 2)));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, digits);
  }
  return Array.from({ length: digits }, () => Math.floor(Math.random() * 16).toString(16)).join("");
}
