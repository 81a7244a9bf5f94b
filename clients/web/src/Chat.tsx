/** One conversation: its newest page of history, then new messages as they
 * come (the SDK delivers each once, in seq order), and a send box. Text is
 * rendered as text, never as HTML. */
import { useEffect, useRef, useState } from "preact/hooks";
import type { Client, MessageView } from "tidings-client";
import { describe } from "./SignIn.js";
import { t } from "./strings.js";

type Line = Pick<MessageView, "seq" | "sender" | "elements" | "state">;

function textOf(m: Line): string {
  if (m.state === "recalled") return t.recalled;
  return m.elements.map((e) => (e.type === "text" ? e.text : t.nonText(e.type))).join(" ");
}

function merge(lines: Line[], more: Line[]): Line[] {
  const bySeq = new Map(lines.map((l) => [l.seq, l]));
  for (const m of more) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

export function Chat({ client, me, conversationId, name, nameOf, onBack }: {
  client: Client; me: string; conversationId: string; name: string;
  nameOf: (userId: string) => string; onBack: () => void;
}) {
  const [lines, setLines] = useState<Line[]>([]);
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const end = useRef<HTMLLIElement>(null);

  useEffect(() => {
    setLines([]);
    let live = true;
    const off = client.on("message", (m) => {
      if (m.conversation_id !== conversationId) return;
      setLines((ls) => merge(ls, [m]));
      void client.markRead(conversationId, m.seq).catch(() => {});
    });
    const offChange = client.on("change", (c) => {
      if (c.conversation_id === conversationId && c.target) setLines((ls) => merge(ls, [c.target!]));
    });
    client.history(conversationId, { limit: 50 }).then((page) => {
      if (!live) return;
      setLines((ls) => merge(ls, page.messages));
      const last = page.messages[page.messages.length - 1];
      if (last) void client.markRead(conversationId, last.seq).catch(() => {});
    }, (e) => setError(describe(e)));
    return () => { live = false; off(); offChange(); };
  }, [client, conversationId]);

  useEffect(() => end.current?.scrollIntoView({ block: "end" }), [lines]);

  async function send(event: Event) {
    event.preventDefault();
    const value = text.trim();
    if (!value) return;
    setError("");
    try {
      const ack = await client.sendText(conversationId, value);
      setText("");
      setLines((ls) => merge(ls, [{ seq: ack.seq, sender: me, state: "normal",
        elements: [{ type: "text", text: value }] }]));
    } catch (e) {
      setError(describe(e));
    }
  }

  return (
    <section class="chat" aria-label={name}>
      <header>
        <button class="back" type="button" onClick={onBack} aria-label={t.back}>‹</button>
        <h2>{name}</h2>
      </header>
      <ol class="messages">
        {lines.map((m) => (
          <li key={m.seq} class={m.sender === me ? "mine" : "theirs"} data-seq={m.seq}>
            <span class="sender">{m.sender === me ? "" : nameOf(m.sender)}</span>
            <span class="text">{textOf(m)}</span>
          </li>
        ))}
        <li ref={end} class="end" aria-hidden="true" />
      </ol>
      {error && <p class="error" role="alert">{error}</p>}
      <form class="compose" onSubmit={send}>
        <label for="message">{t.message}</label>
        <input id="message" autocomplete="off" placeholder={t.message} value={text}
          onInput={(e) => setText(e.currentTarget.value)} />
        <button type="submit">{t.send}</button>
      </form>
    </section>
  );
}
