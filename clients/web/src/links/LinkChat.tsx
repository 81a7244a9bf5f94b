/** A conversation of a linked app identity (docs/linked-identity.md): the
 * person writes as who they are in that app (link_send), reads its history
 * (link_history, each message with the sender's card from the app) and
 * moves its read cursor (link_read). The header is the peer's verified card;
 * names in it and on messages come from the app's cards only. Images, files,
 * voice and video show as in one's own chats, their URLs asked as the
 * linked identity (chat/media.ts's `LinkedApp`). */
import { useEffect, useRef, useState } from "preact/hooks";
import type { Client, MessageView, UserCard } from "tidings-client";
import { Elements } from "../chat/Elements.js";
import { ImageDialog } from "../chat/ImageDialog.js";
import { LinkedApp } from "../chat/media.js";
import { nameOfCard, PeerCard } from "../list/Cards.js";
import { lastText } from "../list/ConversationItems.js";
import type { LinkedConversation, LinkedConversations } from "../list/linked.js";
import { describe } from "../SignIn.js";
import { t } from "../strings.js";
import { l } from "./strings.js";
import "./links.css";

type Line = Pick<MessageView, "seq" | "sender" | "elements" | "state"> & { sender_card?: UserCard };

function merge(lines: Line[], more: Line[]): Line[] {
  const bySeq = new Map(lines.map((l) => [l.seq, l]));
  for (const m of more) bySeq.set(m.seq, { ...bySeq.get(m.seq), ...m });
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

export function LinkChat({ client, linked, entry, conversationId, onBack, isShown }: {
  client: Client; linked: LinkedConversations; entry: LinkedConversation | undefined;
  conversationId: string; onBack: () => void;
  /** Whether the person still looks at this chat (not left by a click yet to render). */
  isShown: (conversationId: string) => boolean;
}) {
  const [lines, setLines] = useState<Line[]>([]);
  const [more, setMore] = useState(false);
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const [viewing, setViewing] = useState<{ mediaId: string; alt: string } | null>(null);
  const end = useRef<HTMLLIElement>(null);
  const newest = useRef(0); // the newest seq shown, read when the tab shows again
  const me = entry?.as.user_id;

  useEffect(() => {
    setLines([]);
    newest.current = 0;
    let live = true;
    // Read only what the person can see: the tab shown, this chat not left.
    const read = (seq: number) => {
      newest.current = Math.max(newest.current, seq);
      if (document.visibilityState === "visible" && isShown(conversationId)) {
        void linked.markRead(conversationId, seq).catch(() => {});
      }
    };
    const load = () => client.linkHistory({ conversation_id: conversationId, limit: 50 }).then((page) => {
      if (!live) return;
      setLines((ls) => merge(ls, page.messages));
      setMore(page.more);
      const last = page.messages[page.messages.length - 1];
      if (last) read(last.seq);
    }, (e) => setError(describe(e)));
    const offs = [
      client.on("message", (m) => {
        if (m.conversation_id !== conversationId) return;
        setLines((ls) => merge(ls, [m]));
        read(m.seq);
      }),
      client.on("change", (c) => {
        if (c.conversation_id === conversationId && c.target) setLines((ls) => merge(ls, [c.target!]));
      }),
      // Back from offline: what came meanwhile (relayed frames were missed).
      client.on("state", (state) => { if (state === "connected") void load(); }),
    ];
    // Read while the tab was hidden: marked read when it shows again.
    const shown = () => { if (newest.current) read(newest.current); };
    document.addEventListener("visibilitychange", shown);
    offs.push(() => document.removeEventListener("visibilitychange", shown));
    void load();
    return () => { live = false; for (const off of offs) off(); };
  }, [client, linked, conversationId]);

  useEffect(() => end.current?.scrollIntoView({ block: "end" }), [lines.length]);

  async function earlier() {
    try {
      const page = await client.linkHistory({ conversation_id: conversationId, before_seq: lines[0]?.seq ?? null, limit: 50 });
      setLines((ls) => merge(ls, page.messages));
      setMore(page.more);
    } catch (e) {
      setError(describe(e));
    }
  }

  async function send(event: Event) {
    event.preventDefault();
    const value = text.trim();
    if (!value || !me) return;
    setError("");
    try {
      const ack = await linked.sendText(conversationId, value);
      setText("");
      setLines((ls) => merge(ls, [{ seq: ack.seq, sender: me, state: "normal", elements: [{ type: "text", text: value }] }]));
    } catch (e) {
      setError(describe(e));
    }
  }

  const sdkappid = Number(conversationId.split(":")[1]) || 0; // app:<sdkappid>:<id>
  const peer = entry?.conversation.peer_card;
  const heading = peer ? nameOfCard(peer) : conversationId;
  return (
    <LinkedApp.Provider value={sdkappid}>
    <section class="chat link-chat" aria-label={heading}>
      <header>
        <button class="back" type="button" onClick={onBack} aria-label={t.back}>‹</button>
        <h2 class="visually-hidden">{heading}</h2>
        <div class="who">
          {entry && peer ? <PeerCard app={entry.app} card={peer} /> : <span class="name">{heading}</span>}
          {entry && <span class="as">{l.youAre(nameOfCard(entry.as), entry.app.name)}</span>}
        </div>
      </header>
      <ol class="messages">
        {more && <li class="earlier"><button type="button" class="link" onClick={earlier}>{l.earlier}</button></li>}
        {lines.map((m) => (
          <li key={m.seq} class={m.sender === me ? "mine" : "theirs"} data-seq={m.seq}>
            <span class="sender">{m.sender === me ? "" : m.sender_card ? nameOfCard(m.sender_card) : m.sender}</span>
            {m.state === "recalled" ? <span class="text">{lastText(m)}</span>
              : <Elements client={client} elements={m.elements} onOpenImage={(mediaId, alt) => setViewing({ mediaId, alt })} />}
          </li>
        ))}
        <li ref={end} class="end" aria-hidden="true" />
      </ol>
      {error && <p class="error" role="alert">{error}</p>}
      <form class="compose" onSubmit={send}>
        <label for="link-message">{entry ? l.messageAs(nameOfCard(entry.as), entry.app.name) : t.message}</label>
        <input id="link-message" autocomplete="off" placeholder={t.message} value={text}
          onInput={(e) => setText(e.currentTarget.value)} />
        <button type="submit" disabled={!me}>{t.send}</button>
      </form>
      {viewing && <ImageDialog client={client} mediaId={viewing.mediaId} alt={viewing.alt} onClose={() => setViewing(null)} />}
    </section>
    </LinkedApp.Provider>
  );
}
