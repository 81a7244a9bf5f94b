/** One conversation (docs/messenger.md, "The chat view"): its history,
 * paged back on scroll with the reading position kept; new messages as they
 * come (the SDK delivers each once, in seq order, also after a reconnect);
 * day separators and times; replies, reactions, recall and edit; typing and
 * read state; one's own messages going out (chat/outbox.ts: a failed one
 * stays, marked, with Retry). The parts live in chat/. */
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Client, ConnectionState, Element, MessageView } from "tidings-client";
import { TidingsError } from "tidings-client";
import { Composer } from "./chat/Composer.js";
import { ImageDialog } from "./chat/ImageDialog.js";
import { changed, react as reacted } from "./chat/lines.js";
import { Message, type MessageActions } from "./chat/Message.js";
import { outboxOf, type Outgoing } from "./chat/outbox.js";
import { c } from "./chat/strings.js";
import { dayKey, dayLabel } from "./chat/time.js";
import { useConversation } from "./chat/useConversation.js";
import { useTyping } from "./chat/useTyping.js";
import "./chat/chat.css";
import { describe } from "./SignIn.js";
import { t } from "./strings.js";

const NEAR_TOP_PX = 120;
const NEAR_BOTTOM_PX = 48;

function explain(error: unknown): string {
  return error instanceof TidingsError && error.is("change_too_late") ? c.tooLate : describe(error);
}

/** What an outgoing message shows as, until it is stored. */
function asView(o: Outgoing, me: string): MessageView {
  return {
    kind: "message", conversation_id: o.conversationId, seq: 0, msg_id: "", client_msg_id: o.clientMsgId,
    time: o.time, sender: me, elements: o.elements as MessageView["elements"], cloud_custom_data: "",
    state: "normal", edited_at: null, change_seq: 0, imported: null,
  };
}

export function Chat({ client, me, conversationId, name, nameOf, onBack, at, isShown }: {
  client: Client; me: string; conversationId: string; name: string;
  nameOf: (userId: string) => string; onBack: () => void;
  /** Whether the person still looks at this chat (not left by a click yet to render). */
  isShown: (conversationId: string) => boolean;
  /** A message to open the chat at (a search hit): shown outlined and focused. */
  at?: { seq: number } | null;
}) {
  const group = conversationId.startsWith("group_");
  const list = useRef<HTMLOListElement>(null);
  const conv = useConversation(client, conversationId,
    () => document.visibilityState === "visible" && isShown(conversationId));
  const { lines, setLines } = conv;
  const outbox = outboxOf(client);
  const [outgoing, setOutgoing] = useState(() => outbox.of(conversationId));
  const [state, setState] = useState<ConnectionState>(client.state);
  const [replyTo, setReplyTo] = useState<MessageView | null>(null);
  const [editing, setEditing] = useState<MessageView | null>(null);
  const [viewing, setViewing] = useState<{ mediaId: string; alt: string } | null>(null);
  const [highlight, setHighlight] = useState(0);
  const [found, setFound] = useState(0);
  const [error, setError] = useState("");
  const typers = useTyping(client, conversationId);

  useEffect(() => {
    setOutgoing(outbox.of(conversationId));
    setReplyTo(null);
    setEditing(null);
    setError("");
    const offs = [outbox.subscribe(() => setOutgoing(outbox.of(conversationId))), client.on("state", setState)];
    return () => { for (const off of offs) off(); };
  }, [client, conversationId]);

  // A message stored while its ack was lost (it came back through a resync
  // or the history) is the outgoing one: shown once, as stored.
  const storedIds = new Set(lines.filter((l) => l.sender === me).map((l) => l.client_msg_id));
  const pending = outgoing.filter((o) => !storedIds.has(o.clientMsgId));
  useEffect(() => {
    for (const o of outgoing) if (storedIds.has(o.clientMsgId)) outbox.forget(o.clientMsgId);
  }, [lines, outgoing]);

  // -- scrolling: stay at the bottom while there, keep the reading position
  // when older messages come in above, jump to a quoted message.
  const atBottom = useRef(true);
  const before = useRef({ first: 0, height: 0 });
  const jumpTo = useRef({ seq: 0, focus: false }); // a message on its way (a quote, a search hit)
  useEffect(() => { // another conversation opens at its newest message
    atBottom.current = true;
    before.current = { first: 0, height: 0 };
    jumpTo.current = { seq: 0, focus: false };
    setFound(0);
  }, [conversationId]);
  // Others' messages that came while the reader was scrolled up: a button
  // says how many and goes down to them.
  const [unseen, setUnseen] = useState(0);
  useEffect(() => {
    setUnseen(0);
    return client.on("message", (m) => {
      if (m.conversation_id === conversationId && m.sender !== me && !atBottom.current) setUnseen((n) => n + 1);
    });
  }, [client, conversationId]);
  function toBottom() {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setUnseen(0);
  }
  useLayoutEffect(() => {
    const el = list.current;
    if (!el) return;
    const first = lines[0]?.seq ?? 0;
    if (jumpTo.current.seq && document.getElementById(`m-${jumpTo.current.seq}`)) {
      show(jumpTo.current.seq, jumpTo.current.focus, "auto");
      jumpTo.current = { seq: 0, focus: false };
    } else if (atBottom.current && !conv.newer) {
      el.scrollTop = el.scrollHeight;
    } else if (before.current.first && first < before.current.first) {
      el.scrollTop += el.scrollHeight - before.current.height; // older ones above: stay put
    }
    before.current = { first, height: el.scrollHeight };
    if (conv.more && !conv.loadingOlder && el.scrollHeight <= el.clientHeight) void conv.loadOlder();
  }, [lines, pending.length, conv.more]);

  function onScroll() {
    const el = list.current!;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
    if (atBottom.current && unseen) setUnseen(0);
    before.current.height = el.scrollHeight;
    if (el.scrollTop < NEAR_TOP_PX && conv.more && !conv.loadingOlder) void conv.loadOlder();
    if (atBottom.current && conv.newer) void conv.loadNewer();
  }

  /** Brings a shown message into view: highlighted a moment (a quote), or
   * outlined and focused (a search hit). */
  function show(seq: number, focus: boolean, behavior: ScrollBehavior) {
    const item = document.getElementById(`m-${seq}`);
    item?.scrollIntoView({ block: "center", behavior });
    atBottom.current = false;
    if (!focus) { setHighlight(seq); return; }
    setFound(seq);
    if (item) item.tabIndex = -1; // before the render that says so: focusable now
    item?.focus({ preventScroll: true });
  }

  /** A message that may be older than the page shown: its page comes first. */
  async function jump(seq: number, focus = false) {
    if (!lines.some((l) => l.seq === seq)) {
      jumpTo.current = { seq, focus };
      atBottom.current = false;
      await conv.loadAround(seq);
      return;
    }
    show(seq, focus, focus ? "auto" : "smooth");
  }
  useEffect(() => { if (at && conv.loaded) void jump(at.seq, true); }, [at, conv.loaded]);
  function latest() {
    atBottom.current = true;
    if (conv.newer) conv.toLatest();
  }
  useEffect(() => {
    if (!highlight) return;
    const timer = setTimeout(() => setHighlight(0), 2000);
    return () => clearTimeout(timer);
  }, [highlight]);

  const run = (work: Promise<unknown>) => work.catch((e: unknown) => setError(explain(e)));
  const actions: MessageActions = {
    onReply: (m) => { setEditing(null); setReplyTo(m); },
    onEdit: (m) => { setReplyTo(null); setEditing(m); },
    onRecall: (m) => {
      setError("");
      void run(client.recall(conversationId, m.seq).then((ack) =>
        setLines((ls) => changed(ls, ack.target, m.seq, { state: "recalled", elements: [] }))));
    },
    onReact: (m, emoji, add) => {
      setError("");
      void run((add ? client.react(conversationId, m.seq, emoji) : client.unreact(conversationId, m.seq, emoji))
        .then((r) => setLines((ls) => reacted(ls, m.seq, me, emoji, r.action))));
    },
    onJump: (seq) => void jump(seq),
    onOpenImage: (mediaId, alt) => setViewing({ mediaId, alt }),
    onRetry: (id) => outbox.retry(id),
    onDiscard: (id) => outbox.forget(id),
    readers: async (m) => (await client.groupReaders({
      group_id: conversationId.slice("group_".length), seq: m.seq, limit: 100 })).users,
    // The windows come with the login (0: no limit); the server's clock decides.
    allowed: (m, change) => {
      const seconds = change === "recall" ? client.login?.recall_window : client.login?.edit_window;
      return m.sender === me && m.seq > 0 && (!seconds || Date.now() + client.clockOffset - m.time < seconds * 1000);
    },
  };

  function send(text: string, mentions: string[]) {
    const elements: Element[] = [{ type: "text", text }];
    if (replyTo) elements.unshift({ type: "quote", seq: replyTo.seq });
    setReplyTo(null);
    latest();
    outbox.send(conversationId, elements, group ? mentions : undefined);
  }

  function saveEdit(text: string) {
    const m = editing!;
    setEditing(null);
    const elements: Element[] = [...m.elements.filter((e) => e.type === "quote"), { type: "text", text }];
    void run(client.edit(conversationId, m.seq, { elements }).then((ack) =>
      setLines((ls) => changed(ls, ack.target, m.seq, {
        elements: elements as MessageView["elements"], state: "edited", edited_at: Date.now() }))));
  }

  function shareLocation() {
    setError("");
    navigator.geolocation.getCurrentPosition((where) => {
      const { latitude, longitude } = where.coords;
      latest();
      outbox.send(conversationId, [{ type: "location", latitude, longitude, desc: "" }]);
    }, () => setError(c.noLocation), { timeout: 15_000 });
  }

  function attach(file: File) {
    latest();
    outbox.sendFile(conversationId, file, replyTo ? { type: "quote", seq: replyTo.seq } : undefined);
    setReplyTo(null);
  }

  // "Read" under one's newest message the peer has read; "Read by N" in groups.
  const lastRead = group ? 0 : Math.max(0, ...lines.filter((l) => l.sender === me && l.state !== "recalled" && l.seq <= conv.peerRead).map((l) => l.seq));
  const receipt = (m: MessageView) => {
    if (m.sender !== me || !m.seq) return "";
    if (group) { const n = conv.readCounts.get(m.seq) ?? 0; return n > 0 ? c.readBy(n) : ""; }
    return m.seq === lastRead ? c.read : "";
  };

  const who = (userId: string) => userId === me ? c.you : nameOf(userId);
  const bySeq = new Map(lines.map((l) => [l.seq, l]));
  const quotedOf = (m: MessageView) => {
    const quote = m.elements.find((e) => e.type === "quote");
    return quote ? bySeq.get(quote.seq) : undefined;
  };
  const shown = [...lines.map((m) => ({ m, o: undefined as Outgoing | undefined })),
                 ...pending.map((o) => ({ m: asView(o, me), o }))];
  const rows = [];
  let day = "";
  for (const { m, o } of shown) {
    if (dayKey(m.time) !== day) {
      day = dayKey(m.time);
      rows.push(<li key={`day-${day}`} class="day"><span>{dayLabel(m.time)}</span></li>);
    }
    rows.push(<Message key={`${m.sender}/${m.client_msg_id}/${m.seq || "out"}`} client={client} m={m} me={me}
      group={group} nameOf={who} receipt={receipt(m)} quoted={quotedOf(m)} outgoing={o} highlighted={highlight === m.seq && m.seq > 0}
      found={found === m.seq && m.seq > 0}
      actions={actions} />);
  }

  return (
    <section class="chat" aria-label={name}
      onDragOver={(e) => { if (e.dataTransfer?.types.includes("Files")) e.preventDefault(); }}
      onDrop={(e) => {
        const dropped = Array.from(e.dataTransfer?.files ?? []);
        if (dropped.length) { e.preventDefault(); dropped.forEach(attach); }
      }}>
      <header>
        <button class="back" type="button" onClick={onBack} aria-label={t.back}>‹</button>
        <div class="title">
          <h2>{name}</h2>
          <p class="typing" role="status" aria-live="polite">
            {typers.length > 2 ? c.typingMany : typers.length ? c.typing(typers.map(nameOf).join(", ")) : ""}
          </p>
        </div>
      </header>
      {state !== "connected" && state !== "idle" && <p class="banner" role="status">{c.offline}</p>}
      <ol class="messages" ref={list} onScroll={onScroll} aria-busy={conv.loadingOlder}
        onLoadCapture={() => { if (atBottom.current && list.current) list.current.scrollTop = list.current.scrollHeight; }}>
        {conv.loadingOlder && <li class="older" role="status">{c.loadingOlder}</li>}
        {!conv.more && lines.length > 0 && lines[0]!.seq <= 1 && <li class="older">{c.beginning}</li>}
        {rows}
      </ol>
      {conv.newer ? <button type="button" class="unseen" onClick={() => { latest(); setUnseen(0); }}>{c.toLatest}</button>
        : unseen > 0 && <button type="button" class="unseen" onClick={toBottom}>{c.unseen(unseen)}</button>}
      {(error || conv.error) && <p class="error" role="alert">{error || describe(conv.error)}</p>}
      <Composer key={conversationId} client={client} me={me} conversationId={conversationId} group={group}
        nameOf={nameOf} replyTo={replyTo} editing={editing} onCancel={() => { setReplyTo(null); setEditing(null); }}
        serverDraft={conv.draft} onLocation={shareLocation} onSend={send} onSaveEdit={saveEdit} onFile={attach} onEditLast={() => {
          const last = [...lines].reverse().find((m) => m.sender === me && m.state !== "recalled" &&
            m.elements.some((e) => e.type === "text") && actions.allowed(m, "edit"));
          if (last) actions.onEdit(last);
        }} />
      {viewing && <ImageDialog client={client} mediaId={viewing.mediaId} alt={viewing.alt} onClose={() => setViewing(null)} />}
    </section>
  );
}
