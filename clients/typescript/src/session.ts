/** The client's session with the server, kept alive across drops: the
 * connection loop (login, sync, heartbeat watchdog, reconnect with backoff
 * and jitter), requests retried on the next connection, and the resync that
 * hands each conversation's entries to the application once, in seq order,
 * with no gap. It mirrors the Python SDK's `tidings.sdk.session`; `Client`
 * (client.ts) adds the op methods on top. */
import { Connection, openSocket, type WebSocketClass } from "./connection.js";
import { Emitter } from "./emitter.js";
import {
  ClientClosedError, ConnectionLost, FATAL_LOGIN_CODES, InvalidArgumentError, RequestTimeoutError,
  RETRYABLE_CODES, TidingsError,
} from "./errors.js";
import type {
  ChangeView, ErrorName, Events, GroupLeftView, JoinRequestView, LoginReply, MessageView, OpName, Ops, SyncReply, SystemView,
} from "./generated/protocol.js";
import { ErrorCodes } from "./generated/protocol.js";
import { checkKnown, type KnownStore } from "./known-store.js";
import { checkOptions, randomId, risingId, type ClientOptions } from "./options.js";
import { SeqTracker } from "./tracker.js";

/** An entry of a conversation's seq stream. */
export type Entry = MessageView | ChangeView | SystemView;
export type ConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "failed" | "closed";

/** What the client emits: the server's events (their `data` as the schema
 * declares it; `message`, `change` and `system` each once, in seq order),
 * plus `entry` (all three), `state` and `group_left`. */
export type ClientEvents = Omit<Events, "ping"> & {
  entry: Entry;
  state: ConnectionState;
  /** A group the user left (or was removed from) while away. */
  group_left: GroupLeftView;
  /** This device's own message, once stored (the server sends it to the
   * user's other devices, not to the one that sent it): the ack with the
   * message as sent, so a conversation list can show it. */
  sent: MessageView;
};

const LINKED = "app:"; // a linked identity's conversation: its catch-up is link_sync

/** A conversation's live entries held past a gap, by seq, and its timer. */
interface Held {
  entries: Map<number, Entry>;
  timer: ReturnType<typeof setTimeout> | undefined;
}
const USERSIG_REFRESHABLE: ReadonlySet<number> = new Set([
  ErrorCodes.usersig_expired, ErrorCodes.usersig_revoked, ErrorCodes.usersig_missing]);

function asObject(data: unknown): Record<string, unknown> {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new TidingsError(ErrorCodes.internal, `malformed answer: ${String(data).slice(0, 100)}`);
  }
  return data as Record<string, unknown>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Session extends Emitter<ClientEvents> {
  /** The servers' URLs: one, or the processes of a cluster, tried in this
   * order, the next one after a failed or dropped connection. */
  readonly urls: readonly string[];
  readonly sdkappid: number;
  readonly userId: string;
  readonly deviceId: string;
  readonly platform: string;
  readonly requestTimeout: number;
  readonly sendTimeout: number;
  readonly connectTimeout: number;
  readonly backoffInitial: number;
  readonly backoffMax: number;
  readonly gapWait: number;
  /** Successful logins and syncs, the first included. */
  connects = 0;
  sessionId: number | null = null;
  /** The answer to the last login: the server's limits (`max_message_bytes`,
   * `recall_window`, `edit_window`), null before the first. */
  login: LoginReply | null = null;
  /** The server's clock minus this device's (ms), as of the last login:
   * add it to `Date.now()` to compare with a message's `time`. */
  clockOffset = 0;
  state: ConnectionState = "idle";
  /** As of the last sync (docs/groups.md, "Join applications"). */
  groupJoinRequests: JoinRequestView[] = [];
  groupApplications: JoinRequestView[] = [];

  protected readonly tracker: SeqTracker;
  /** client_msg_ids of sends awaiting their ack. */
  protected readonly outbox = new Set<string>();
  /** The Live groups joined: membership is per connection, so each
   * reconnect joins them again (until `liveLeave`). */
  protected readonly liveRooms = new Set<string>();
  private readonly Socket: WebSocketClass;
  private readonly getUserSig: (() => string | Promise<string>) | undefined;
  private userSig: string | undefined;
  // The ticket held came from getUserSig and was not yet accepted: if it is
  // refused too, asking again would loop.
  private userSigFresh = false;
  private baselined: boolean;
  private readonly knownStore: KnownStore | undefined;
  // Load the store before the first sync (false: `known` was given, or no store).
  private loadKnown: boolean;
  private saveQueued = false;
  private conn: Connection | null = null;
  private urlAt = 0;
  private resyncHere = false;
  // Live entries past a gap, per conversation: by seq, and the timer after
  // which the conversation's gap still open means a resync (hold()).
  private readonly held = new Map<string, Held>();
  private failure: Error | null = null;
  private closed = false;
  private running = false;
  private wakers: (() => void)[] = [];
  private appState = "foreground";
  private wakeBackoff: (() => void) | null = null;
  // In a browser, coming back online ends the backoff wait at once.
  private readonly onOnline = (): void => this.wakeBackoff?.();
  // Going offline ends the connection at once, rather than after the
  // heartbeat's silence (a minute): the state says so, sends wait, and the
  // way back is a fresh login and resync.
  private readonly onOffline = (): void => this.conn?.close();

  constructor(options: ClientOptions) {
    super();
    const { urls, sdkappid, userId, userSig, getUserSig, Socket } = checkOptions(options);
    this.urls = urls;
    this.sdkappid = sdkappid;
    this.userId = userId;
    this.userSig = userSig;
    this.getUserSig = getUserSig;
    this.Socket = Socket;
    this.deviceId = options.deviceId ?? randomId();
    this.platform = options.platform ?? "web";
    this.requestTimeout = options.requestTimeout ?? 10_000;
    this.sendTimeout = options.sendTimeout ?? 30_000;
    this.connectTimeout = options.connectTimeout ?? 10_000;
    this.backoffInitial = options.backoffInitial ?? 500;
    this.backoffMax = options.backoffMax ?? 30_000;
    this.gapWait = options.gapWait ?? 500;
    this.tracker = new SeqTracker(options.known, () => this.queueSave());
    // After a first full sync (or with a saved map) a conversation never
    // seen before is read from its first message, not from its tail.
    this.baselined = options.known !== undefined;
    this.knownStore = options.knownStore;
    this.loadKnown = options.knownStore !== undefined && options.known === undefined;
  }

  /** The scope of this client's position in a `KnownStore`: app and user. */
  get knownScope(): string {
    return `${this.sdkappid}:${this.userId}`;
  }

  // -- lifecycle ---------------------------------------------------------------

  /** Connect, log in and sync. Rejects with a `TidingsError` when the server
   * refuses the login for good, a `RequestTimeoutError` when no connection
   * was made within `connectTimeout`; the client is closed in both cases. */
  async connect(): Promise<void> {
    if (this.closed) throw new ClientClosedError();
    if (!this.running) {
      this.running = true;
      globalThis.addEventListener?.("online", this.onOnline);
      globalThis.addEventListener?.("offline", this.onOffline);
      void this.run();
    }
    try {
      await this.ready(Date.now() + this.connectTimeout);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Disconnect for good. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    globalThis.removeEventListener?.("online", this.onOnline);
    globalThis.removeEventListener?.("offline", this.onOffline);
    this.conn?.close();
    this.wakeBackoff?.();
    this.setState("closed");
    this.wake();
  }

  /** The URL this client connects (or is connected) to: REST calls
   * (uploads, media URLs) go to its host too. */
  get url(): string {
    return this.urls[this.urlAt]!;
  }

  /** Logged in and synced right now. */
  get connected(): boolean {
    return this.conn !== null && !this.conn.lost;
  }

  /** The last contiguous seq held per conversation (save it to resume). */
  get known(): Record<string, number> {
    return this.tracker.snapshot();
  }

  /** The events named, from now on, as an async iterator:
   * `for await (const m of client.stream("message")) ...`. It ends when the
   * client is closed (after what it holds), throws when the client failed
   * for good; leaving the loop unsubscribes. */
  stream<K extends keyof ClientEvents>(event: K): AsyncIterableIterator<ClientEvents[K]> {
    const queue: ClientEvents[K][] = [];
    let wake: (() => void) | null = null;
    let done = this.closed;
    const offs = [
      this.on(event, (value) => { queue.push(value); wake?.(); }),
      this.on("state", (state) => {
        if (state === "closed" || state === "failed") { done = true; wake?.(); }
      }),
    ];
    const stop = () => { for (const off of offs) off(); done = true; };
    const end = { value: undefined, done: true } as const;
    const iterator: AsyncIterableIterator<ClientEvents[K]> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        while (queue.length === 0 && !done) await new Promise<void>((resolve) => { wake = resolve; });
        wake = null;
        if (queue.length > 0) return { value: queue.shift()!, done: false };
        stop();
        if (this.failure !== null) throw this.failure;
        return end;
      },
      return: async () => { stop(); return end; },
    };
    return iterator;
  }

  // -- requests ----------------------------------------------------------------

  /** Any op of the protocol, typed by the schema: answers the reply's data.
   * Waits through a reconnection (the request goes out again on the next
   * connection), up to `timeoutMs`. */
  request<K extends OpName>(op: K, data: Ops[K]["data"], timeoutMs = this.requestTimeout
  ): Promise<Ops[K]["reply"]> {
    return this.call(op, data, (reply) => asObject(reply) as Ops[K]["reply"], timeoutMs);
  }

  protected async call<T>(op: string, data: unknown, handler: (data: unknown) => T,
                          timeoutMs: number): Promise<T> {
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new InvalidArgumentError(`${op}: data must be an object`);
    }
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; ) {
      const conn = await this.ready(deadline);
      try {
        return await conn.request(op, data, handler, Math.max(1, deadline - Date.now()));
      } catch (error) {
        if (error instanceof ConnectionLost) continue; // same request, next connection
        if (!(error instanceof TidingsError) || !RETRYABLE_CODES.has(error.code)) throw error;
        const delay = this.backoff(attempt++);
        if (Date.now() + delay >= deadline) throw error;
        await sleep(delay);
      }
    }
  }

  private async ready(deadline: number): Promise<Connection> {
    for (;;) {
      if (this.closed) throw new ClientClosedError();
      if (this.failure !== null) throw this.failure;
      const conn = this.conn;
      if (conn !== null && !conn.lost) return conn;
      const left = deadline - Date.now();
      if (left <= 0) throw new RequestTimeoutError("not connected to the server in time");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wakers.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  private wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const wake of wakers) wake();
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  // -- the connection loop -----------------------------------------------------

  protected backoff(attempt: number): number {
    const cap = Math.min(this.backoffMax, this.backoffInitial * 2 ** Math.min(attempt, 30));
    return cap / 2 + Math.random() * (cap / 2);
  }

  private async run(): Promise<void> {
    let attempt = 0;
    if (this.loadKnown) {
      this.loadKnown = false;
      try {
        const saved = checkKnown(await this.knownStore!.load(this.knownScope));
        if (saved !== undefined) {
          for (const [cid, seq] of Object.entries(saved)) this.tracker.setBase(cid, seq);
          this.baselined = true;
        }
      } catch {
        // A store that cannot be read is a first run: the tail of each conversation.
      }
    }
    while (!this.closed) {
      const before = this.connects;
      this.setState(before === 0 ? "connecting" : "reconnecting");
      try {
        await this.connectOnce();
      } catch (error) {
        if (error instanceof TidingsError && FATAL_LOGIN_CODES.has(error.code)) {
          if (this.getUserSig !== undefined && USERSIG_REFRESHABLE.has(error.code) &&
              !this.userSigFresh) {
            this.userSig = undefined; // the held ticket is spent: fetch a fresh one
            continue;
          }
          this.fail(error);
          return;
        }
        if (error instanceof SyntaxError || error instanceof InvalidArgumentError) {
          this.fail(error); // a URL the WebSocket class refuses
          return;
        }
      }
      if (this.closed) return;
      // Its process may be gone (killed, or drained: a close with 1012).
      if (!this.resyncHere) this.urlAt = (this.urlAt + 1) % this.urls.length;
      this.resyncHere = false;
      if (this.connects !== before) attempt = 0; // it worked for a while: start over
      const delay = this.backoff(attempt++);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeBackoff = () => { clearTimeout(timer); resolve(); };
      });
      this.wakeBackoff = null;
    }
  }

  private fail(error: Error): void {
    this.failure = error;
    this.setState("failed");
    this.wake();
  }

  /** The ticket held (fetched with getUserSig when there is none); REST calls use it too. */
  protected async freshUserSig(): Promise<string> {
    if (this.userSig === undefined) {
      const sig = await this.getUserSig!();
      if (typeof sig !== "string" || sig === "") {
        throw new InvalidArgumentError("getUserSig must answer a non-empty string");
      }
      this.userSig = sig;
      this.userSigFresh = true;
    }
    return this.userSig;
  }

  private async connectOnce(): Promise<void> {
    const usersig = await this.freshUserSig();
    const ws = await openSocket(this.Socket, this.url, this.connectTimeout);
    const conn: Connection = new Connection(ws, (event, data) => {
      let keep = false;
      try {
        keep = this.onEvent(conn, event, data);
      } finally {
        // Ended by us to resync (a gap, a malformed entry): the process is
        // fine, so the next connection goes to the same URL.
        if (!keep) this.resyncHere = true;
      }
      return keep;
    });
    let watchdog: ReturnType<typeof setInterval> | undefined;
    try {
      const login = await conn.request("login", {
        sdkappid: this.sdkappid, user_id: this.userId, usersig,
        device: { platform: this.platform, id: this.deviceId },
      }, (d) => asObject(d) as unknown as LoginReply, this.connectTimeout);
      const clockOffset = login.server_time - Date.now();
      if (this.appState !== "foreground") {
        await conn.request("app_state", { state: this.appState }, asObject, this.connectTimeout);
      }
      this.userSigFresh = false;
      const deadAfter = login.heartbeat_timeout * 1000;
      watchdog = this.watch(conn, login.heartbeat_interval * 1000, deadAfter);
      const within = Math.max(this.requestTimeout, deadAfter);
      while (await conn.request("sync", { known: this.tracker.snapshot() },
                                (d) => this.applySync(d as SyncReply), within)) { /* again */ }
      for (const groupId of [...this.liveRooms].sort()) {
        try {
          await conn.request("live_join", { group_id: groupId }, asObject, this.requestTimeout);
        } catch (error) {
          if (!(error instanceof TidingsError)) throw error;
          this.liveRooms.delete(groupId); // disbanded, or no longer allowed in
        }
      }
      this.sessionId = login.session_id;
      this.login = login;
      this.clockOffset = clockOffset;
      this.connects += 1;
      this.conn = conn;
      this.setState("connected");
      this.wake();
      await conn.ended;
    } finally {
      if (watchdog !== undefined) clearInterval(watchdog);
      if (this.conn === conn) this.conn = null;
      this.forgetHeld();
      conn.close();
    }
  }

  /** Ends the connection when nothing at all was heard for `deadAfter` ms.
   * An idle server pings every `interval`; when even that is late, we ask. */
  private watch(conn: Connection, interval: number, deadAfter: number): ReturnType<typeof setInterval> {
    const askAfter = Math.max(interval, 0.75 * deadAfter);
    return setInterval(() => {
      const now = Date.now();
      const silent = now - conn.lastHeard;
      if (silent > deadAfter) {
        conn.close();
      } else if (silent >= askAfter && now - conn.lastPing >= askAfter) {
        conn.lastPing = now;
        conn.post("ping");
      }
    }, Math.max(50, Math.min(interval, deadAfter) / 3));
  }

  private onEvent(conn: Connection, event: string, data: unknown): boolean {
    switch (event) {
      case "ping":
        conn.post("pong");
        return true;
      case "message":
      case "change":
      case "system": {
        const entry = data as Entry;
        // A linked identity's catch-up is link_sync: take its frames as they come.
        const acceptGap = event !== "system" && entry.conversation_id.startsWith(LINKED);
        return this.deliver(entry, acceptGap); // false: a gap, so resync
      }
      default:
        if (event === "live_closed") this.liveRooms.delete((data as { group_id: string }).group_id);
        if (typeof data === "object" && data !== null) {
          this.emit(event as keyof ClientEvents, data as never);
        }
        return true;
    }
  }

  protected deliver(entry: Entry, acceptGap: boolean): boolean {
    if (typeof entry.conversation_id !== "string" || typeof entry.seq !== "number") {
      throw new TypeError("malformed entry");
    }
    const verdict = this.hand(entry, acceptGap);
    if (verdict === "gap") return this.hold(entry);
    if (verdict === "new") this.release(entry.conversation_id);
    return true;
  }

  /** Emits `entry` if it is the next of its conversation (or `acceptGap`). */
  private hand(entry: Entry, acceptGap: boolean): "new" | "duplicate" | "gap" {
    const verdict = this.tracker.offer(entry.conversation_id, entry.seq, acceptGap);
    if (verdict === "new" && !(entry.kind === "message" && entry.sender === this.userId
                               && this.outbox.has(entry.client_msg_id))) {
      // (A send of ours stored before the line dropped comes back in the
      // sync: its ack reports it, not the event stream.)
      this.emit("entry", entry);
      this.emit(entry.kind === "message" || entry.kind === "system" ? entry.kind : "change", entry as never);
    }
    return verdict;
  }

  /** One of our sends (or changes) was stored with `seq`: we hold it, and
   * what was held past it may follow. */
  protected owned(conversationId: string, seq: number): void {
    this.tracker.own(conversationId, seq);
    this.release(conversationId);
  }

  /** Keeps a live entry that came past a gap, for `gapWait` ms: the
   * entries of one conversation committed by two processes of a cluster
   * may cross on their way (docs/cluster.md), and the missing one is then
   * a moment behind. Still missing after that: resync. False: resync now. */
  private hold(entry: Entry): boolean {
    const conn = this.conn;
    if (this.gapWait <= 0 || conn === null || conn.lost) return false;
    let held = this.held.get(entry.conversation_id);
    if (held === undefined) {
      held = { entries: new Map(), timer: undefined };
      this.held.set(entry.conversation_id, held);
      this.waitFor(held, conn);
    }
    held.entries.set(entry.seq, entry);
    return true;
  }

  /** Each conversation's gap waits its own `gapWait` (one timer for all,
   * started by the first hold, resynced a gap opened in another
   * conversation just before it fired), from when it opened or when its
   * held run last moved on. */
  private waitFor(held: Held, conn: Connection): void {
    if (held.timer !== undefined) clearTimeout(held.timer);
    held.timer = setTimeout(() => {
      held.timer = undefined;
      if (held.entries.size > 0 && this.conn === conn) {
        this.resyncHere = true;
        conn.close();
      }
    }, this.gapWait);
  }

  /** Hands over what was held in a conversation and no longer follows a
   * gap. A loop, not a recursion through deliver: each entry of a long run
   * took stack frames (10,000 held overflowed the stack), and the held
   * ones are looked over once a run, not once an entry. */
  private release(conversationId: string): void {
    const held = this.held.get(conversationId);
    if (held === undefined) return;
    const waiting = held.entries;
    let moved = false;
    for (;;) {
      const seq = (this.tracker.get(conversationId) ?? 0) + 1;
      const next = waiting.get(seq);
      if (next === undefined) break;
      waiting.delete(seq);
      moved = true;
      this.hand(next, false);
    }
    // Those no longer needed: held already (our own acks may have moved
    // the tracker past them), or our own.
    const have = this.tracker.get(conversationId) ?? 0;
    for (const seq of [...waiting.keys()]) {
      if (seq <= have || this.tracker.isOwn(conversationId, seq)) waiting.delete(seq);
    }
    if (waiting.size === 0) {
      clearTimeout(held.timer);
      this.held.delete(conversationId);
    } else if (moved && this.conn !== null) {
      this.waitFor(held, this.conn); // what is left is a later gap
    }
  }

  /** What was held goes with its connection: the next sync brings it. */
  private forgetHeld(): void {
    for (const held of this.held.values()) clearTimeout(held.timer);
    this.held.clear();
  }

  /** Takes in a sync answer (as it is read, before any later frame); true
   * when another round is needed. */
  private applySync(data: SyncReply): boolean {
    const more = Boolean(data.more);
    const first = new Map<string, number>();
    for (const m of data.messages) if (!first.has(m.conversation_id)) first.set(m.conversation_id, m.seq);
    const fresh = new Set<string>();
    for (const conv of data.conversations) {
      const cid = conv.conversation_id;
      if (this.tracker.has(cid)) continue;
      if (this.baselined) {
        // New since we last looked: all of it, from seq 1 (in a group, from
        // the first entry this member may see).
        this.tracker.setBase(cid, conv.visible_after ?? 0);
        fresh.add(cid);
      } else if (first.has(cid)) {
        this.tracker.setBase(cid, first.get(cid)! - 1);
      } else if (!more) {
        this.tracker.setBase(cid, conv.last_seq);
      } // else: left out of this round; the next one brings its tail
    }
    let again = more;
    for (const m of data.messages) {
      const held = this.tracker.get(m.conversation_id) ?? 0;
      if (m.seq > held + 1 && !this.tracker.isOwn(m.conversation_id, m.seq) && fresh.has(m.conversation_id)) {
        again = true; // only its tail came: ask again from seq 1
        continue;
      }
      this.deliver(m, true);
    }
    for (const gone of data.groups_left ?? []) {
      this.tracker.forget(gone.conversation_id);
      this.emit("group_left", gone);
    }
    this.groupJoinRequests = data.group_join_requests ?? [];
    this.groupApplications = data.group_applications ?? [];
    if (!more) {
      this.baselined = true;
      this.queueSave(); // the earlier rounds' changes were held back
    }
    return again;
  }

  /** Saves `known` once the changes of this tick are done (an entry is
   * handed to the listeners before the save runs). Nothing is saved while
   * the first sync is still baselining: a reload then starts afresh, as
   * the first run did, rather than treat the rest as new since then. */
  private queueSave(): void {
    if (this.knownStore === undefined || this.saveQueued) return;
    this.saveQueued = true;
    queueMicrotask(() => {
      this.saveQueued = false;
      if (!this.baselined) return;
      void Promise.resolve().then(() => this.knownStore!.save(this.knownScope, this.tracker.snapshot()))
        .catch(() => { /* not saved: the next run resumes from an older position (nothing lost) */ });
    });
  }

  // -- shared by the methods -----------------------------------------------------

  /** What this device shows (`foreground`: it shows messages itself,
   * `background`: it wants pushes); said again after each reconnect. */
  async setAppState(state: "foreground" | "background"): Promise<void> {
    this.appState = state;
    await this.request("app_state", { state });
  }

  /** A new `clientMsgId`: an application that keeps a message to retry
   * (a Retry button) picks it before the first try, and sends with it each time. */
  newClientMsgId(): string {
    return risingId();
  }

  /** Whether an error is the server's `name` refusal. */
  static isError(error: unknown, name: ErrorName): error is TidingsError {
    return error instanceof TidingsError && error.is(name);
  }
}
