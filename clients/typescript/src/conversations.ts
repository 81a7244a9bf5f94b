/** A conversation list that keeps itself current: loaded with the
 * `conversations` op (again after each reconnect), then updated from the
 * client's events (the user's own conversations only: a linked identity's,
 * relayed to a home account, are `linkConversations`') (new messages, read cursors, recalls and edits, settings
 * from other devices). Store-friendly: `subscribe` + `getSnapshot` fit
 * React's `useSyncExternalStore`, Svelte stores and Vue's `shallowRef`; each
 * change makes a new array (immutable snapshots).
 *
 * A load's answer never takes back a newer live event: the answer is the
 * list as the server read it, which may be before a message, a read, a
 * change or a settings change whose event came while the request was on
 * its way (the event is sent once stored; the answer after it was read).
 * Those events are applied again on top of the answer, each only if newer
 * than what it holds: a message by its `seq`, a read cursor or a peer's
 * read receipt only when it moves forward (cursors never move back; a read
 * state at the cursor held changes nothing, wherever it comes from: an
 * event or `markRead`'s answer), a recall or edit by its `change_seq`, a
 * group left by its `seq`. Settings carry no `seq`: they are applied again
 * in the order they came (a newer change's event, still on its way, comes
 * after them), except a hide when the answer holds an entry newer than
 * those received when the hide came (the answer was read after the hide,
 * and a new message since brought the conversation back).
 *
 * A message for a conversation the list does not hold (hidden on the server
 * before the list was loaded, or beyond its `limit`) shows at once, made
 * from the message alone; the list then asks the server for that
 * conversation's state (`conversations` with `conversation_ids`: its unread
 * count, settings and cursors, which the message alone cannot tell) and
 * merges the answer as a load's, the events since it was asked applied again
 * on top (those of the conversations it answers). The conversations asked
 * for in one turn of the event loop go in one request. */
import { CatchUp } from "./catch-up.js";
import type { Client } from "./client.js";
import type { ClientEvents } from "./session.js";
import type {
  ConversationSettingsEvent, ConversationView, GroupLeftView, MessageView, PeerReadEvent, ReadState,
} from "./generated/protocol.js";

type Reply = Awaited<ReturnType<Client["conversations"]>>;

export class ConversationList {
  private byId = new Map<string, ConversationView>();
  private snapshot: readonly ConversationView[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly offs: (() => void)[] = [];
  // The changes kept while a load or an ask by id is on its way, and the
  // asks (up to 100 ids a request: the op's limit).
  private readonly catchUp: CatchUp<Reply>;

  constructor(private readonly client: Client, private readonly limit?: number) {
    this.catchUp = new CatchUp((ids) => client.conversations(undefined, ids),
      (reply, ids) => this.merge(reply, ids), () => this.publish());
    this.offs.push(
      client.on("message", (m) => this.onMessage(m)),
      client.on("sent", (m) => this.onMessage(m)),
      client.on("read", (r) => this.read(r)),
      client.on("peer_read", (r) => this.peerRead(r)),
      client.on("change", (c) => this.change(c)),
      client.on("conversation_settings", (s) => this.settings(s)),
      client.on("group_left", (g) => this.left(g)),
      client.on("state", (state) => { if (state === "connected") void this.load().catch(() => {}); }),
    );
  }

  /** Fetches the list (the client must be connected). The events that came
   * while it was on its way are applied again on top of its answer, each
   * only if newer (see the class's comment). */
  async load(): Promise<readonly ConversationView[]> {
    await this.catchUp.load(() => this.client.conversations(this.limit), (reply) => {
      this.byId = new Map(reply.conversations.map((c) => [c.conversation_id, c]));
    });
    this.publish();
    return this.snapshot;
  }

  /** Pinned first, then the most recent; hidden ones are left out (a new
   * message brings them back). */
  getSnapshot = (): readonly ConversationView[] => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  get(conversationId: string): ConversationView | undefined {
    return this.byId.get(conversationId);
  }

  /** Unread messages in conversations that are not muted. */
  get totalUnread(): number {
    let total = 0;
    for (const c of this.byId.values()) if (!c.muted) total += c.unread;
    return total;
  }

  dispose(): void {
    for (const off of this.offs.splice(0)) off();
    this.listeners.clear();
  }

  private onMessage(m: MessageView): void {
    // A linked identity's conversation (`app:...`, relayed to a home
    // account) is not the user's own: `conversations` never lists it.
    if (m.conversation_id.startsWith("app:")) return;
    this.meanwhile(m.conversation_id, () => this.onMessage(m));
    const held = this.byId.get(m.conversation_id);
    // Not held: made from the message below, and its state asked for (also
    // when applied again on a load's answer that lacks it).
    if (held === undefined) this.catchUp.ask(m.conversation_id);
    const conv = held ?? {
      conversation_id: m.conversation_id, type: m.conversation_id.startsWith("group_") ? "group" : "c2c",
      last_message: null, last_seq: 0, last_time: 0, read_seq: 0, unread: 0, peer_read_seq: null,
      pinned: false, muted: false, hidden: false, cleared_seq: 0, draft: "", draft_time: 0,
    } satisfies ConversationView;
    // Not newer than the newest entry held (an answer read after it has it).
    if (m.seq <= conv.last_seq) return;
    // Sending moves the sender's cursor to the message: all before it is read.
    const mine = m.sender === this.client.userId;
    this.byId.set(m.conversation_id, {
      ...conv, last_message: m, last_seq: m.seq, last_time: m.time, hidden: false,
      unread: mine ? 0 : conv.unread + 1,
      read_seq: mine ? m.seq : conv.read_seq,
      at_me: !mine && (conv.at_me || (m.mentions ?? []).some((u) => u === this.client.userId || u === "@all")),
    });
    this.publish();
  }

  /** A read cursor (a `read` event, or markRead's answer). Only one that
   * moves the cursor changes the list: cursors only move forward, and a
   * state at the cursor held counts the messages after it as the server
   * had them when it read them, never newer than what is held (each
   * message since was counted as its event came; one still on its way
   * will be). */
  private read(state: ReadState): void {
    this.meanwhile(state.conversation_id, () => this.read(state));
    const held = this.byId.get(state.conversation_id);
    if (held === undefined || state.read_seq <= held.read_seq) return;
    this.patch(state.conversation_id, {
      read_seq: state.read_seq, unread: state.unread, ...(state.unread === 0 && held.at_me ? { at_me: false } : {}),
    });
  }

  /** The peer's read receipt: it too only moves forward. */
  private peerRead(r: PeerReadEvent): void {
    this.meanwhile(r.conversation_id, () => this.peerRead(r));
    const held = this.byId.get(r.conversation_id);
    if (held === undefined || (held.peer_read_seq !== null && r.peer_read_seq <= held.peer_read_seq)) return;
    this.patch(r.conversation_id, { peer_read_seq: r.peer_read_seq });
  }

  /** A recall or an edit of the last message, if newer than the copy held
   * (of two copies of a message, the higher `change_seq` is the newer). */
  private change(c: ClientEvents["change"]): void {
    this.meanwhile(c.conversation_id, () => this.change(c));
    const last = this.byId.get(c.conversation_id)?.last_message;
    if (last && c.target && last.seq === c.target_seq && c.target.change_seq > last.change_seq) {
      this.patch(c.conversation_id, { last_message: c.target });
    }
  }

  /** Settings (from any device, this one's included). `seen`: when applied
   * again on top of a load's answer, the conversation's newest entry this
   * client had received when the event came (undefined: none). */
  private settings(s: ConversationSettingsEvent, again?: { seen: number | undefined }): void {
    if (again === undefined && this.catchUp.keeping) {
      const seen = this.client.known[s.conversation_id];
      this.meanwhile(s.conversation_id, () => this.settings(s, { seen }));
    }
    const { conversation_id, ...settings } = s;
    const held = this.byId.get(conversation_id);
    if (held === undefined) return;
    // A hide applied again on an answer that shows the conversation with an
    // entry newer than those received when the hide came: the answer was
    // read after the hide, and a new message (still on its way here,
    // and then not newer than the answer) brought the conversation back.
    if (again?.seen !== undefined && settings.hidden && !held.hidden && held.last_seq > again.seen) return;
    this.patch(conversation_id, settings);
  }

  /** A group left (kicked, disbanded): out of the list, unless the answer
   * held is newer than the leave (joined again since). */
  private left(g: GroupLeftView): void {
    this.meanwhile(g.conversation_id, () => this.left(g));
    const held = this.byId.get(g.conversation_id);
    if (held === undefined || (g.seq !== undefined && held.last_seq > g.seq)) return;
    this.byId.delete(g.conversation_id);
    this.publish();
  }

  /** Kept for each load or ask on its way, to apply again on top of its answer. */
  private meanwhile(id: string, again: () => void): void {
    this.catchUp.keep(id, again);
  }

  /** The answer to an ask by id, merged as a load's for the conversations
   * it answers: each replaces the entry held (their changes since the ask
   * are then applied again on top, only if newer). One the server does not
   * answer (the user is not in it) is left as the messages made it. */
  private merge(reply: Reply, ids: ReadonlySet<string>): ReadonlySet<string> {
    const answered = new Set<string>();
    for (const c of reply.conversations) {
      if (!ids.has(c.conversation_id)) continue;
      this.byId.set(c.conversation_id, c);
      answered.add(c.conversation_id);
    }
    return answered;
  }

  private patch(conversationId: string, change: Partial<ConversationView>): void {
    const conv = this.byId.get(conversationId);
    if (conv === undefined) return;
    this.byId.set(conversationId, { ...conv, ...change });
    this.publish();
  }

  private publish(): void {
    if (this.catchUp.quiet) return;
    this.snapshot = [...this.byId.values()].filter((c) => !c.hidden).sort((a, b) =>
      Number(b.pinned) - Number(a.pinned) || b.last_time - a.last_time ||
      a.conversation_id.localeCompare(b.conversation_id));
    for (const listener of [...this.listeners]) listener();
  }
}
