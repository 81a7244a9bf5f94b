/** The send box: text with Enter to send (Shift+Enter for a new line), an
 * emoji picker, a file or image to attach, the reply or edit under way,
 * "@" suggestions in groups, the draft kept per conversation, and the
 * typing indicator sent to the others (at most every few seconds). */
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Client, GroupMember, MessageView } from "tidings-client";
import { t } from "../strings.js";
import { textOf } from "./lines.js";
import { c } from "./strings.js";

const EMOJI = ["😀", "😂", "😊", "😍", "🤔", "😮", "😢", "😡", "👍", "👎", "👏", "🙏",
               "💪", "🎉", "❤️", "🔥", "✅", "❌", "👀", "🙌", "🤝", "😎", "😴", "🍀"];
const TYPING_EVERY_MS = 4000;

const draftKey = (me: string, conversationId: string) => `tidings.draft.${me}.${conversationId}`;

export function Composer({ client, me, conversationId, group, nameOf, replyTo, editing, onCancel,
                           onSend, onSaveEdit, onFile, onEditLast, onLocation, serverDraft }: {
  client: Client; me: string; conversationId: string; group: boolean; nameOf: (userId: string) => string;
  /** The server's draft: shown when this browser kept none. */
  serverDraft: string;
  replyTo: MessageView | null; editing: MessageView | null; onCancel: () => void;
  onSend: (text: string, mentions: string[]) => void; onSaveEdit: (text: string) => void;
  onFile: (file: File) => void;
  /** Up in an empty box: edit one's newest message (as in most messengers). */
  onEditLast: () => void;
  /** Where this device is (the browser asks the person first). */
  onLocation: () => void;
}) {
  const [text, setText] = useState(() => localStorage.getItem(draftKey(me, conversationId)) ?? "");
  const [emoji, setEmoji] = useState(false);
  const [members, setMembers] = useState<GroupMember[] | null>(null);
  const [query, setQuery] = useState<string | null>(null);
  const picked = useRef(new Map<string, string>()); // "@name" → user id
  const field = useRef<HTMLTextAreaElement>(null);
  const file = useRef<HTMLInputElement>(null);
  const typingSent = useRef(0);

  // The draft is kept as it is typed (not while editing a sent message), and
  // the server keeps it too when the chat closes, for the list and other devices.
  const draft = useRef(text);
  const initial = useRef(text);
  useEffect(() => {
    if (editing) return;
    draft.current = text;
    const key = draftKey(me, conversationId);
    if (text) localStorage.setItem(key, text); else localStorage.removeItem(key);
  }, [text, editing, me, conversationId]);
  useEffect(() => () => {
    if (draft.current !== initial.current) {
      void client.setConversation(conversationId, { draft: draft.current }).catch(() => {});
    }
    if (typingSent.current) void client.typing(conversationId, false).catch(() => {});
  }, [client, conversationId]);

  useEffect(() => {
    if (serverDraft && !draft.current && !editing) {
      initial.current = serverDraft;
      setText(serverDraft);
    }
  }, [serverDraft]);

  // Before paint: the text to edit is in the box as soon as it shows.
  useLayoutEffect(() => {
    if (editing) setText(textOf(editing));
    if (editing || replyTo) field.current?.focus();
  }, [editing, replyTo]);

  function typing(value: string) {
    const now = Date.now();
    if (value && now - typingSent.current > TYPING_EVERY_MS) {
      typingSent.current = now;
      void client.typing(conversationId, true).catch(() => {});
    } else if (!value && typingSent.current) {
      typingSent.current = 0;
      void client.typing(conversationId, false).catch(() => {});
    }
  }

  function input(value: string, caret: number) {
    setText(value);
    if (!editing) typing(value);
    const at = group ? /(^|\s)@([^\s@]*)$/.exec(value.slice(0, caret)) : null;
    setQuery(at ? at[2]!.toLowerCase() : null);
    if (at && members === null) {
      setMembers([]);
      client.groupMembers({ group_id: conversationId.replace(/^group_/, ""), limit: 100 })
        .then((r) => setMembers(r.members), () => setMembers(null));
    }
  }

  function insert(piece: string, replace = 0) {
    const el = field.current;
    const at = el?.selectionStart ?? text.length;
    const next = text.slice(0, at - replace) + piece + text.slice(el?.selectionEnd ?? at);
    setText(next);
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(at - replace + piece.length, at - replace + piece.length);
    });
  }

  function mention(userId: string, name: string) {
    picked.current.set(`@${name}`, userId);
    insert(`@${name} `, (query ?? "").length + 1);
    setQuery(null);
  }

  function cancel() {
    if (editing) setText(draft.current); // back to what was being written before
    onCancel();
  }

  function submit(event?: Event) {
    event?.preventDefault();
    const value = text.trim();
    if (!value) return;
    if (editing) {
      onSaveEdit(value);
      setText(draft.current);
      return;
    }
    const ids = [...picked.current].filter(([name]) => value.includes(name)).map(([, id]) => id);
    onSend(value, [...new Set(ids)]);
    typingSent.current = 0;
    void client.typing(conversationId, false).catch(() => {});
    picked.current.clear();
    setText("");
    setEmoji(false);
  }

  const suggestions = query === null || !members ? [] : [
    ...(c.everyone.toLowerCase().startsWith(query) || "all".startsWith(query) ? [{ id: "@all", name: c.everyone }] : []),
    ...members.filter((m) => m.user_id !== me)
      .map((m) => ({ id: m.user_id, name: m.name_card || nameOf(m.user_id) }))
      .filter((m) => m.name.toLowerCase().includes(query) || m.id.toLowerCase().includes(query)),
  ].slice(0, 8);

  return (
    <form class="compose" onSubmit={submit}>
      {(replyTo || editing) && (
        <div class="compose-context">
          <span>{editing ? c.editing : c.replyingTo(nameOf(replyTo!.sender))}</span>
          {replyTo && <span class="compose-quote">{textOf(replyTo)}</span>}
          <button type="button" class="secondary" onClick={cancel}>
            {c.cancel}
          </button>
        </div>
      )}
      {suggestions.length > 0 && (
        <ul class="mentions" aria-label={c.mention}>
          {suggestions.map((s) => (
            <li key={s.id}>
              <button type="button" onClick={() => mention(s.id, s.name)}>@{s.name}</button>
            </li>
          ))}
        </ul>
      )}
      {emoji && (
        <div class="emoji-picker" role="group" aria-label={c.emoji}>
          {EMOJI.map((e) => <button key={e} type="button" onClick={() => insert(e)}>{e}</button>)}
        </div>
      )}
      <label for="message">{t.message}</label>
      <div class="compose-row">
        <button type="button" class="tool" aria-label={c.emoji} aria-expanded={emoji}
          onClick={() => setEmoji(!emoji)}>😊</button>
        {!editing && (
          <button type="button" class="tool" aria-label={c.attach} onClick={() => file.current?.click()}>
            <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" fill="none" stroke="currentColor"
              stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
              <path d="M21 12.5l-8.5 8.5a5.5 5.5 0 0 1-7.8-7.8l9-9a3.7 3.7 0 0 1 5.2 5.2l-9 9a1.8 1.8 0 0 1-2.6-2.6l8.3-8.3" />
            </svg>
          </button>
        )}
        {!editing && "geolocation" in navigator && (
          <button type="button" class="tool" aria-label={c.shareLocation} onClick={onLocation}>
            <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" fill="none" stroke="currentColor"
              stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
              <path d="M12 21s-7-6.2-7-11.5a7 7 0 0 1 14 0C19 14.8 12 21 12 21z" /><circle cx="12" cy="9.5" r="2.5" />
            </svg>
          </button>
        )}
        <input ref={file} type="file" class="hidden-file" tabIndex={-1} aria-hidden="true"
          onChange={(e) => {
            const chosen = e.currentTarget.files?.[0];
            if (chosen) onFile(chosen);
            e.currentTarget.value = "";
          }} />
        <textarea id="message" ref={field} rows={1} autocomplete="off" placeholder={t.message} value={text}
          onInput={(e) => input(e.currentTarget.value, e.currentTarget.selectionStart)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) submit(e);
            // This Escape ends the edit or the reply, not the chat.
            if (e.key === "Escape" && (editing || replyTo)) { e.preventDefault(); cancel(); }
            if (e.key === "ArrowUp" && !text && !editing) { e.preventDefault(); onEditLast(); }
          }}
          onPaste={(e) => {
            // A pasted image (a screenshot) is sent like an attached one.
            const pasted = Array.from(e.clipboardData?.files ?? []);
            if (pasted.length && !editing) { e.preventDefault(); pasted.forEach(onFile); }
          }} />
        <button type="submit">{editing ? c.save : t.send}</button>
      </div>
    </form>
  );
}
