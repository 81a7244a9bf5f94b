/** A conversation list that keeps itself current: loaded with the
 * `conversations` op (again after each reconnect), then updated from the
 * client's events (the user's own conversations only: a linked identity's,
 * relayed to a home account, are `linkConversations`') (new messages, read cursors, recalls and edits, settings
 * from other devices). Store-friendly: `subscribe` + `getSnapshot` fit
 * React's `useSyncExternalStore`, Svelte stores and Vue's `shallowRef`; each
 * change makes a new array (immutable snapshots). */
import type { Client } from "./client.js";
import type { ConversationView, MessageView } from "./generated/protocol.js";

export class ConversationList {
  private byId = new Map<string, ConversationView>();
  private snapshot: readonly ConversationView[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly offs: (() => void)[] = [];

  constructor(private readonly client: Client, private readonly limit?: number) {
    this.offs.push(
      client.on("message", (m) => this.onMessage(m)),
      client.on("sent", (m) => this.onMessage(m)),
      client.on("read", (r) => this.patch(r.conversation_id, { read_seq: r.read_seq, unread: r.unread })),
      client.on("peer_read", (r) => this.patch(r.conversation_id, { peer_read_seq: r.peer_read_seq })),
      client.on("change", (c) => {
        const conv = this.byId.get(c.conversation_id);
        if (conv?.last_message && c.target && conv.last_message.seq === c.target_seq) {
          this.patch(c.conversation_id, { last_message: c.target });
        }
      }),
      client.on("conversation_settings", (s) => {
        const { conversation_id, ...settings } = s;
        this.patch(conversation_id, settings as Partial<ConversationView>);
      }),
      client.on("group_left", (g) => { if (this.byId.delete(g.conversation_id)) this.publish(); }),
      client.on("state", (state) => { if (state === "connected") void this.load().catch(() => {}); }),
    );
  }

  /** Fetches the list (the client must be connected). */
  async load(): Promise<readonly ConversationView[]> {
    const reply = await this.client.conversations(this.limit);
    this.byId = new Map(reply.conversations.map((c) => [c.conversation_id, c]));
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
    const conv = this.byId.get(m.conversation_id) ?? {
      conversation_id: m.conversation_id, type: m.conversation_id.startsWith("group_") ? "group" : "c2c",
      last_message: null, last_seq: 0, last_time: 0, read_seq: 0, unread: 0, peer_read_seq: null,
      pinned: false, muted: false, hidden: false, cleared_seq: 0, draft: "", draft_time: 0,
    } satisfies ConversationView;
    if (m.seq <= conv.last_seq) return;
    const mine = m.sender === this.client.userId;
    this.byId.set(m.conversation_id, {
      ...conv, last_message: m, last_seq: m.seq, last_time: m.time, hidden: false,
      unread: mine ? conv.unread : conv.unread + 1,
      read_seq: mine ? m.seq : conv.read_seq,
      at_me: conv.at_me || (!mine && (m.mentions ?? []).some((u) => u === this.client.userId || u === "@all")),
    });
    this.publish();
  }

  private patch(conversationId: string, change: Partial<ConversationView>): void {
    const conv = this.byId.get(conversationId);
    if (conv === undefined) return;
    this.byId.set(conversationId, { ...conv, ...change });
    this.publish();
  }

  private publish(): void {
    this.snapshot = [...this.byId.values()].filter((c) => !c.hidden).sort((a, b) =>
      Number(b.pinned) - Number(a.pinned) || b.last_time - a.last_time ||
      a.conversation_id.localeCompare(b.conversation_id));
    for (const listener of [...this.listeners]) listener();
  }
}
