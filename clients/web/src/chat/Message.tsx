/** One message of the chat: who and when, the quote it replies to (a button
 * that jumps to it), its content, its state (sending, failed with Retry,
 * edited, read), its reactions (who, on hover and to screen readers), and a
 * menu of what one can do with it: react, reply, and on one's own, edit and
 * recall. */
import { useState } from "preact/hooks";
import type { Client, MessageView } from "tidings-client";
import { Elements } from "./Elements.js";
import { mentions, textOf } from "./lines.js";
import type { Outgoing } from "./outbox.js";
import { c } from "./strings.js";
import { fullTime, timeOf } from "./time.js";

export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

export interface MessageActions {
  onReply: (m: MessageView) => void;
  onEdit: (m: MessageView) => void;
  onRecall: (m: MessageView) => void;
  onReact: (m: MessageView, emoji: string, add: boolean) => void;
  onJump: (seq: number) => void;
  onOpenImage: (mediaId: string, alt: string) => void;
  onRetry: (clientMsgId: string) => void;
  onDiscard: (clientMsgId: string) => void;
  /** One's own message, still within the server's window for the change. */
  allowed: (m: MessageView, change: "recall" | "edit") => boolean;
  /** Groups: who read one's own message (`group_readers`), by name. */
  readers: (m: MessageView) => Promise<string[]>;
}

export function Message({ client, m, me, group, nameOf, receipt, outgoing, highlighted, found, quoted, actions }: {
  client: Client; m: MessageView; me: string; group: boolean; nameOf: (userId: string) => string;
  /** The message quoted, when shown (one's own reply is sent with the bare quote: its text is here). */
  quoted: MessageView | undefined;
  /** "Read" (1:1) or "Read by N" (groups), on one's own messages. */
  receipt: string; outgoing: Outgoing | undefined; highlighted: boolean; actions: MessageActions;
  /** A search hit the chat opened at: outlined and focusable. */
  found?: boolean;
}) {
  const [menu, setMenu] = useState(false);
  const [readBy, setReadBy] = useState<string[] | null>(null);
  const mine = m.sender === me;
  if (m.state === "recalled") {
    return (
      <li class="recalled" data-seq={m.seq} id={`m-${m.seq}`}>
        {mine ? c.recalledByMe : c.recalledBy(nameOf(m.sender))}
      </li>
    );
  }
  const quote = m.elements.find((e) => e.type === "quote");
  const stored = !outgoing;
  const atMe = mentions(m, me);
  const editable = mine && stored && m.elements.some((e) => e.type === "text") && actions.allowed(m, "edit");
  const classes = ["message", mine ? "mine" : "theirs", highlighted ? "highlight" : "",
                   atMe ? "at-me" : "", found ? "found" : "", outgoing?.status ?? ""].filter(Boolean).join(" ");
  const act = (f: (m: MessageView) => void) => () => { setMenu(false); f(m); };
  return (
    <li class={classes} data-seq={m.seq || undefined} id={m.seq ? `m-${m.seq}` : undefined} tabIndex={found ? -1 : undefined}>
      {group && !mine && <span class="sender">{nameOf(m.sender)}</span>}
      {atMe && <span class="at-me-mark">{c.mentionsMe}</span>}
      {quote && (
        <button type="button" class="quote" onClick={() => actions.onJump(quote.seq)}>
          <span class="visually-hidden">{c.jumpTo}: </span>
          <span class="quote-sender">{nameOf(quote.sender ?? quoted?.sender ?? "")}</span>
          <span class="quote-text">{quote.state === "recalled" || quoted?.state === "recalled" ? c.quoteMissing
            : quote.text || (quoted ? textOf(quoted) : "") || c.quoteMissing}</span>
        </button>
      )}
      {outgoing?.preview && outgoing.elements.length === 0
        ? <img class="preview" src={outgoing.preview} alt={c.image} />
        : <Elements client={client} elements={m.elements} onOpenImage={actions.onOpenImage} />}
      <span class="meta">
        <time dateTime={new Date(m.time).toISOString()} title={fullTime(m.time)}>{timeOf(m.time)}</time>
        {m.state === "edited" && <span class="edited">{c.edited}</span>}
        {outgoing?.status === "sending" && <span class="status">
          {outgoing.file && outgoing.elements.length === 0
            ? <progress max={1} value={outgoing.progress ?? 0} aria-label={c.uploading(Math.round(100 * (outgoing.progress ?? 0)))} />
            : c.sending}</span>}
        {receipt && !group && <span class="receipt">{receipt}</span>}
        {receipt && group && (
          <button type="button" class="receipt" aria-expanded={readBy !== null}
            onClick={() => readBy ? setReadBy(null) : void actions.readers(m).then(setReadBy, () => {})}>
            {receipt}
          </button>
        )}
      </span>
      {readBy && <span class="readers">{c.readers(readBy.map(nameOf).join(", "))}</span>}
      {outgoing?.status === "failed" && (
        <span class="failed" role="alert">
          {/* Why, when the server said (muted, blocked, too big): a retry would not help. */}
          <span>{outgoing.error ? `${c.sendFailed}: ${outgoing.error}` : c.sendFailed}</span>
          <button type="button" onClick={() => actions.onRetry(outgoing.clientMsgId)}>{c.retry}</button>
          <button type="button" class="secondary" onClick={() => actions.onDiscard(outgoing.clientMsgId)}>{c.discard}</button>
        </span>
      )}
      {(m.reactions ?? []).length > 0 && (
        <span class="reactions">
          {m.reactions!.map((r) => {
            const chosen = r.users.includes(me);
            const who = r.users.map(nameOf).join(", ");
            return (
              <button key={r.emoji} type="button" class="reaction" aria-pressed={chosen}
                aria-label={c.reaction(r.emoji, r.count, who)} title={who}
                onClick={() => actions.onReact(m, r.emoji, !chosen)}>{r.emoji} {r.count}</button>
            );
          })}
        </span>
      )}
      {stored && (
        <button type="button" class="more" aria-label={c.actions} aria-expanded={menu}
          onClick={() => setMenu(!menu)}>⋯</button>
      )}
      {menu && (
        <span class="menu" role="group" aria-label={c.actions} onKeyDown={(e) => {
          if (e.key !== "Escape") return;
          e.preventDefault(); // this Escape closes the menu, not the chat
          setMenu(false);
          (e.currentTarget.previousElementSibling as HTMLElement | null)?.focus(); // back to "More"
        }}>
          {QUICK_REACTIONS.map((emoji) => {
            const chosen = (m.reactions ?? []).some((r) => r.emoji === emoji && r.users.includes(me));
            return (
              <button key={emoji} type="button" class="emoji" aria-label={c.reactWith(emoji)} aria-pressed={chosen}
                onClick={() => { setMenu(false); actions.onReact(m, emoji, !chosen); }}>{emoji}</button>
            );
          })}
          <button type="button" onClick={act(actions.onReply)}>{c.reply}</button>
          {editable && <button type="button" onClick={act(actions.onEdit)}>{c.edit}</button>}
          {mine && actions.allowed(m, "recall") &&
            <button type="button" onClick={act(actions.onRecall)}>{c.recall}</button>}
        </span>
      )}
    </li>
  );
}
