/** What the console does for one user through the admin API: edit the
 * profile's text fields (`PATCH /v1/admin/profiles/{user_id}`; the user's
 * devices get a `profile` event) and send a message as the user
 * (`POST /v1/admin/messages`, stored and delivered as the user's own). */
import { useState } from "preact/hooks";
import type { AppApi } from "./api.js";
import { useAction } from "./hooks.js";
import { Note } from "./Note.js";
import { t } from "./strings.js";

const enc = encodeURIComponent;
const FIELDS = ["nickname", "avatar_url", "signature"] as const;
type Field = typeof FIELDS[number];

/** A fresh client_msg_id (crypto.randomUUID needs a secure context; an
 * operator may reach the console over plain HTTP on a private network). */
function messageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export function ProfileEditor({ api, userId, profile, onSaved }: {
  api: AppApi; userId: string; profile: Record<string, unknown>; onSaved: () => void;
}) {
  const [values, setValues] = useState(() => Object.fromEntries(
    FIELDS.map((f) => [f, String(profile[f] ?? "")])) as Record<Field, string>);
  const action = useAction();
  const label: Record<Field, string> = { nickname: t.nickname, avatar_url: t.avatarUrl, signature: t.signature };
  function submit(event: Event) {
    event.preventDefault();
    void action.run(async () => {
      const changed = FIELDS.filter((f) => values[f] !== String(profile[f] ?? ""));
      await api("PATCH", `/v1/admin/profiles/${enc(userId)}`,
        Object.fromEntries(changed.map((f) => [f, values[f]])));
      onSaved();
      return t.saved;
    });
  }
  return (
    <form class="card" onSubmit={submit} aria-labelledby="edit-profile-title">
      <h4 id="edit-profile-title">{t.editProfile}</h4>
      {FIELDS.map((f) => (
        <div key={f}>
          <label for={`profile-${f}`}>{label[f]}</label>
          <input id={`profile-${f}`} value={values[f]} maxLength={500}
            onInput={(e) => { const v = e.currentTarget.value; setValues((old) => ({ ...old, [f]: v })); }} />
        </div>
      ))}
      <Note note={action.note} />
      <button type="submit" disabled={action.busy}>{t.save}</button>
    </form>
  );
}

export function SendAs({ api, userId, to, onSent }: {
  api: AppApi; userId: string; to: string; onSent: (conversationId: string) => void;
}) {
  const [conversation, setConversation] = useState(to);
  const [text, setText] = useState("");
  const action = useAction();
  function submit(event: Event) {
    event.preventDefault();
    void action.run(async () => {
      const ack = await api<{ seq: number }>("POST", "/v1/admin/messages", {
        from: userId, conversation_id: conversation.trim(), client_msg_id: messageId(),
        elements: [{ type: "text", text }],
      });
      setText("");
      onSent(conversation.trim());
      return t.sent(ack.seq);
    });
  }
  return (
    <form class="card" onSubmit={submit} aria-labelledby="send-as-title">
      <h4 id="send-as-title">{t.sendAs(userId)}</h4>
      <div>
        <label for="send-as-to">{t.sendTo}</label>
        <input id="send-as-to" required maxLength={128} value={conversation}
          onInput={(e) => setConversation(e.currentTarget.value)} />
      </div>
      <div>
        <label for="send-as-text">{t.messageText}</label>
        <textarea id="send-as-text" required rows={2} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </div>
      <Note note={action.note} />
      <button type="submit" disabled={action.busy}>{t.send}</button>
    </form>
  );
}
