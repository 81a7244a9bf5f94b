/** The conversations of the person's linked app identities
 * (docs/linked-identity.md), kept current like the SDK's ConversationList:
 * loaded with `link_conversations` (again after each reconnect, which is
 * the catch-up of the list), then moved by the relayed live events, whose
 * conversation ids are qualified (`app:<sdkappid>:...`). Cards (the app's,
 * the peer's, who the person is in the app) come only from the server's
 * answers and frames, never from anything a user typed.
 *
 * A message for a conversation the list does not hold (hidden by the app's
 * own client before the list was loaded, or beyond the server's limit)
 * shows at once, made from the message alone; the list then asks the
 * server for that conversation's state (`link_conversations` with
 * `conversation_ids`: its unread count, settings and cursors, which the
 * message alone cannot tell) and merges the answer as a load's, the events
 * since it was asked applied again on top (those of the conversations it
 * answers), as the SDK's ConversationList does. The conversations asked
 * for in one turn of the event loop go in one request. */
import { CatchUp } from "tidings-client";
import type {
  AppCard, Client, ClientEvents, ConversationView, MessageAck, MessageView, ReadState, UserCard,
} from "tidings-client";

export const LINKED_PREFIX = "app:";
export const isLinked = (conversationId: string): boolean => conversationId.startsWith(LINKED_PREFIX);

/** One linked identity: its app and who the person is there. */
export interface Identity { app: AppCard; as: UserCard }
export interface LinkedConversation extends Identity { conversation: ConversationView }
/** What a relayed frame carries besides the message. */
interface Relayed { link?: Identity; peer_card?: UserCard; sender_card?: UserCard }
type Reply = Awaited<ReturnType<Client["linkConversations"]>>;

function empty(conversationId: string): ConversationView {
  return {
    conversation_id: conversationId, type: conversationId.includes(":group_") ? "group" : "c2c",
    last_message: null, last_seq: 0, last_time: 0, read_seq: 0, unread: 0, peer_read_seq: null,
    pinned: false, muted: false, hidden: false, cleared_seq: 0, draft: "", draft_time: 0,
  };
}

export class LinkedConversations {
  private byId = new Map<string, LinkedConversation>();
  // Opened but still empty (no message yet): shown when opened, not listed.
  private readonly opened = new Map<string, LinkedConversation>();
  private identities: readonly Identity[] = [];
  private snapshot: readonly LinkedConversation[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly offs: (() => void)[] = [];
  // The changes kept while a load or an ask by id is on its way, and the
  // asks (up to 100 ids a request: the op's limit).
  private readonly catchUp: CatchUp<Reply>;

  constructor(private readonly client: Client) {
    this.catchUp = new CatchUp((ids) => client.linkConversations({ conversation_ids: ids }),
      (reply, ids) => this.merge(reply, ids), () => this.publish());
    this.offs.push(
      client.on("message", (m) => { if (isLinked(m.conversation_id)) this.onMessage(m); }),
      client.on("read", (r) => this.read(r)),
      client.on("change", (c) => this.change(c)),
      client.on("link_added", () => void this.load().catch(() => {})),
      client.on("link_removed", (gone) => {
        this.identities = this.identities.filter((i) => i.app.sdkappid !== gone.sdkappid);
        for (const held of [this.byId, this.opened]) {
          for (const [cid, entry] of held) if (entry.app.sdkappid === gone.sdkappid) held.delete(cid);
        }
        this.publish();
      }),
      client.on("state", (state) => { if (state === "connected") void this.load().catch(() => {}); }),
    );
  }

  /** Fetches every linked identity's conversations (the client must be
   * connected). The answer is the list as the server read it, which may be
   * before a message or a read whose live event came first (the event is
   * sent once stored; the answer after it was read): the events that came
   * while it was on its way are applied again on top of it, each only if
   * newer than it (a message by its seq, a read by its cursor). Without
   * that, an answer read just before a message was stored took the message
   * and its unread count back out of the list, and out of its app chip's
   * count, until the next event or load. */
  async load(): Promise<readonly LinkedConversation[]> {
    let apps = new Set<number>();
    await this.catchUp.load(() => this.client.linkConversations(), (reply) => {
      this.identities = reply.apps.map(({ app, as }) => ({ app, as }));
      this.byId = new Map(reply.apps.flatMap(({ app, as, conversations }) =>
        conversations.map((conversation) => [conversation.conversation_id, { app, as, conversation }] as const)));
      apps = new Set(reply.apps.map(({ app }) => app.sdkappid));
    });
    // A conversation of an app unlinked meanwhile stays out.
    for (const [cid, entry] of this.byId) if (!apps.has(entry.app.sdkappid)) this.byId.delete(cid);
    this.identities = this.identities.filter((i) => apps.has(i.app.sdkappid));
    for (const cid of this.opened.keys()) if (this.byId.has(cid)) this.opened.delete(cid);
    this.publish();
    return this.snapshot;
  }

  getSnapshot = (): readonly LinkedConversation[] => this.snapshot;
  /** The linked identities, one per app, in the order of the server's answer. */
  getIdentities = (): readonly Identity[] => this.identities;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  get(conversationId: string): LinkedConversation | undefined {
    return this.byId.get(conversationId) ?? this.opened.get(conversationId);
  }

  /** A conversation the link flow opened, with the cards its preview showed
   * (the server's): it joins the list with its first message. */
  open(conversationId: string, identity: Identity, peer: UserCard | null): void {
    if (this.byId.has(conversationId)) return;
    this.opened.set(conversationId, { ...identity, conversation: {
      ...empty(conversationId), peer_card: conversationId.includes(":c2c_") ? peer : null } });
    this.publish();
  }

  /** Sends text as the linked identity; the list shows it at once (the
   * server relays a device's own link_send to the other devices only). */
  async sendText(conversationId: string, text: string): Promise<MessageAck> {
    const ack = await this.client.linkSend(conversationId, [{ type: "text", text }]);
    const entry = this.get(conversationId);
    if (entry) {
      this.onMessage({
        kind: "message", conversation_id: ack.conversation_id, seq: ack.seq, msg_id: ack.msg_id,
        client_msg_id: ack.client_msg_id, time: ack.time, sender: entry.as.user_id,
        elements: [{ type: "text", text }], cloud_custom_data: "", state: "normal", edited_at: null,
        change_seq: 0, imported: null,
      });
    }
    return ack;
  }

  /** Moves the linked identity's read cursor (the newest message without `seq`). */
  async markRead(conversationId: string, seq?: number): Promise<void> {
    const state = await this.client.request("link_read", { conversation_id: conversationId, seq: seq ?? null });
    this.read(state);
  }

  dispose(): void {
    for (const off of this.offs.splice(0)) off();
    this.listeners.clear();
  }

  private onMessage(m: MessageView & Relayed): void {
    const known = this.get(m.conversation_id);
    const identity = known ?? m.link;
    if (identity === undefined) return; // not one of ours (a frame without its label)
    this.meanwhile(m.conversation_id,
      () => this.onMessage({ ...m, link: { app: identity.app, as: identity.as } }));
    // Not listed (only opened, or not held at all): made from the message
    // below, and its state asked for (also when applied again on a load's
    // answer that lacks it).
    if (!this.byId.has(m.conversation_id)) this.catchUp.ask(m.conversation_id);
    const conv: ConversationView = known?.conversation ?? empty(m.conversation_id);
    this.opened.delete(m.conversation_id);
    if (m.seq <= conv.last_seq) return;
    const mine = m.sender === identity.as.user_id;
    const { link: _label, peer_card, sender_card: _card, ...message } = m;
    this.byId.set(m.conversation_id, {
      app: identity.app, as: identity.as,
      conversation: {
        ...conv, last_message: message, last_seq: m.seq, last_time: m.time, hidden: false,
        unread: mine ? 0 : conv.unread + 1, read_seq: mine ? m.seq : conv.read_seq,
        peer_card: peer_card ?? conv.peer_card ?? null,
      },
    });
    if (!this.identities.some((i) => i.app.sdkappid === identity.app.sdkappid)) {
      this.identities = [...this.identities, { app: identity.app, as: identity.as }];
    }
    this.publish();
  }

  /** A read cursor (a `read` event, or link_read's answer). Only one that
   * moves the cursor changes the list: cursors only move forward, and a
   * state at the cursor held counts the messages after it as the server
   * had them when it read them, which is never newer than what is held
   * (each message since was counted as its frame came; one still on its
   * way will be). So a read event that came while a load was on its way,
   * applied again on top of the load's answer (read after it), does not
   * take back the count of a message the answer has. */
  private read(state: ReadState): void {
    this.meanwhile(state.conversation_id, () => this.read(state));
    const held = this.byId.get(state.conversation_id)?.conversation;
    if (held === undefined || state.read_seq <= held.read_seq) return;
    this.patch(state.conversation_id, { read_seq: state.read_seq, unread: state.unread });
  }

  private change(c: ClientEvents["change"]): void {
    this.meanwhile(c.conversation_id, () => this.change(c));
    const held = this.byId.get(c.conversation_id)?.conversation;
    if (held?.last_message && c.target && held.last_message.seq === c.target_seq) {
      this.patch(c.conversation_id, { last_message: c.target });
    }
  }

  /** Kept for each load or ask on its way, to apply again on top of its answer. */
  private meanwhile(id: string, again: () => void): void {
    this.catchUp.keep(id, again);
  }

  /** The answer to an ask by id, merged as a load's for the conversations
   * it answers: each replaces the entry held, with the app's and the
   * peer's cards of the answer (their changes since the ask are then
   * applied again on top, only if newer). One the server does not answer
   * (no linked identity of the person is in it), or of an app unlinked
   * meanwhile, is left as the messages made it. */
  private merge(reply: Reply, ids: ReadonlySet<string>): ReadonlySet<string> {
    const linked = new Set(this.identities.map((i) => i.app.sdkappid));
    const answered = new Set<string>();
    for (const { app, as, conversations } of reply.apps) {
      if (!linked.has(app.sdkappid)) continue;
      for (const conversation of conversations) {
        const cid = conversation.conversation_id;
        if (!ids.has(cid)) continue;
        this.byId.set(cid, { app, as, conversation });
        this.opened.delete(cid);
        answered.add(cid);
      }
    }
    return answered;
  }

  private patch(conversationId: string, change: Partial<ConversationView>): void {
    const entry = this.byId.get(conversationId);
    if (entry === undefined) return;
    this.byId.set(conversationId, { ...entry, conversation: { ...entry.conversation, ...change } });
    this.publish();
  }

  private publish(): void {
    if (this.catchUp.quiet) return;
    this.snapshot = [...this.byId.values()].filter((e) => !e.conversation.hidden);
    for (const listener of [...this.listeners]) listener();
  }
}
