/** The app's users: search by the start of a user id, a page at a time;
 * disable, enable, kick, delete; a user's profile (edited in place) and
 * conversations, a conversation's history as that user sees it, and a
 * message sent as the user (UserTools.tsx). */
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { AppApi } from "./api.js";
import { useAction, useLoad } from "./hooks.js";
import { Note } from "./Note.js";
import { t, when } from "./strings.js";
import { ProfileEditor, SendAs } from "./UserTools.js";

type User = { user_id: string; state: string; nickname: string; created_at: number; last_login_at: number | null };
type Page = { users: User[]; next: string | null };
const enc = encodeURIComponent;

export function Users({ api }: { api: AppApi }) {
  const [query, setQuery] = useState("");
  const [prefix, setPrefix] = useState("");
  const [after, setAfter] = useState<string[]>([""]);  // the pages seen, to go on
  const [open, setOpen] = useState<string | null>(null);
  const page = useLoad(() => api<Page>("GET",
    `/v1/admin/accounts?limit=50&prefix=${enc(prefix)}&after=${enc(after[after.length - 1])}`), [prefix, after]);
  const action = useAction();

  function act(user: User, verb: "disable" | "enable" | "kick" | "delete") {
    if (verb === "delete" && !confirm(t.confirmDelete(user.user_id))) return;
    void action.run(async () => {
      if (verb === "delete") await api("POST", "/v1/admin/accounts/delete", { user_ids: [user.user_id] });
      else await api("POST", `/v1/admin/accounts/${enc(user.user_id)}/${verb}`);
      page.reload();
      return `${user.user_id}: ${t.done}`;
    });
  }

  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">{t.users}</h2>
      <form class="row" role="search" onSubmit={(e) => { e.preventDefault(); setPrefix(query.trim()); setAfter([""]); }}>
        <div class="grow">
          <label for="user-search">{t.searchUsers}</label>
          <input id="user-search" maxLength={32} value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        </div>
        <button type="submit">{t.search}</button>
      </form>
      <Note note={page.error} />
      <Note note={action.note} />
      {page.data?.users.length === 0 && <p class="muted">{t.noUsers}</p>}
      {!!page.data?.users.length && (
        <table aria-labelledby="users-title">
          <thead><tr><th>{t.users}</th><th>{t.nickname}</th><th>{t.state}</th><th>{t.lastLogin}</th><th><span class="sr-only">{t.profile}</span></th></tr></thead>
          <tbody>
            {page.data.users.map((u) => (
              <tr key={u.user_id}>
                <td><code>{u.user_id}</code></td><td>{u.nickname}</td>
                <td><span class={`status ${u.state}`}>{u.state}</span></td>
                <td>{u.last_login_at ? when(u.last_login_at) : t.never}</td>
                <td>
                  <div class="row" role="group" aria-label={t.userActions(u.user_id)}>
                    <button type="button" class="secondary" onClick={() => setOpen(u.user_id)}>{t.profile}</button>
                    {u.state !== "deleted" && <>
                      {u.state === "disabled"
                        ? <button type="button" class="secondary" disabled={action.busy} onClick={() => act(u, "enable")}>{t.enable}</button>
                        : <button type="button" class="secondary" disabled={action.busy} onClick={() => act(u, "disable")}>{t.disable}</button>}
                      <button type="button" class="secondary" disabled={action.busy} onClick={() => act(u, "kick")}>{t.kick}</button>
                      <button type="button" class="danger" disabled={action.busy} onClick={() => act(u, "delete")}>{t.remove}</button>
                    </>}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page.data?.next && <button type="button" class="secondary" onClick={() => setAfter([...after, page.data!.next!])}>{t.more}</button>}
      {open && <UserPanel key={open} api={api} userId={open} onClose={() => setOpen(null)} />}
    </section>
  );
}

type Conversation = { conversation_id: string; last_time: number; unread: number; last_seq: number };
type Message = { msg_id: string; seq: number; sender: string; time: number; state: string; elements: { type: string; text?: string }[] };

function UserPanel({ api, userId, onClose }: { api: AppApi; userId: string; onClose: () => void }) {
  const profile = useLoad(() => api<Record<string, unknown>>("GET", `/v1/admin/profiles/${enc(userId)}`), []);
  const conversations = useLoad(() => api<{ conversations: Conversation[] }>("GET",
    `/v1/admin/users/${enc(userId)}/conversations?limit=50`), []);
  const [open, setOpen] = useState<string | null>(null);
  const [round, setRound] = useState(0); // a message sent: the lists again
  return (
    <div class="card panel" role="region" aria-labelledby="user-panel-title">
      <div class="row spread">
        <h3 id="user-panel-title">{t.profile}: <code>{userId}</code></h3>
        <button type="button" class="secondary" onClick={onClose}>{t.close}</button>
      </div>
      <Note note={profile.error} />
      {profile.data && (
        <dl class="facts">
          {Object.entries(profile.data).filter(([k, v]) => k !== "user_id" && v !== "" && typeof v !== "object")
            .map(([k, v]) => <Fragment key={k}><dt>{k}</dt><dd>{k.endsWith("_at") ? when(Number(v)) : String(v)}</dd></Fragment>)}
        </dl>
      )}
      {profile.data && <ProfileEditor api={api} userId={userId} profile={profile.data} onSaved={profile.reload} />}
      <SendAs api={api} userId={userId} to={open ?? ""} onSent={(cid) => {
        conversations.reload(); setOpen(cid); setRound((r) => r + 1);
      }} />
      <h4>{t.conversations}</h4>
      <Note note={conversations.error} />
      {conversations.data?.conversations.length === 0 && <p class="muted">{t.noConversations}</p>}
      <ul class="plain">
        {conversations.data?.conversations.map((c) => (
          <li key={c.conversation_id}>
            <button type="button" class="linkish" aria-current={open === c.conversation_id ? "true" : undefined}
              onClick={() => setOpen(c.conversation_id)}>{c.conversation_id}</button>
            <span class="muted small"> {when(c.last_time)} · {c.last_seq}</span>
          </li>
        ))}
      </ul>
      {open && <History key={`${open}/${round}`} api={api} userId={userId} conversationId={open} />}
    </div>
  );
}

function History({ api, userId, conversationId }: { api: AppApi; userId: string; conversationId: string }) {
  const [messages, setMessages] = useState<Message[]>([]);
  const [more, setMore] = useState(false);
  const action = useAction();
  const path = `/v1/admin/conversations/${enc(userId)}/${conversationId.split("/").map(enc).join("/")}/messages?limit=30`;
  async function load(before?: number) {
    const page = await api<{ messages: Message[]; more: boolean }>("GET",
      before ? `${path}&before_seq=${before}` : path);
    setMessages((old) => [...page.messages, ...old]);
    setMore(page.more);
  }
  useEffect(() => { void action.run(() => load()); }, []);
  return (
    <div aria-labelledby="history-title">
      <h4 id="history-title">{t.history}: {conversationId}</h4>
      <Note note={action.note} />
      {more && <button type="button" class="secondary" disabled={action.busy}
        onClick={() => void action.run(() => load(messages[0]?.seq))}>{t.olderMessages}</button>}
      <ol class="history">
        {messages.map((m) => (
          <li key={m.msg_id}>
            <span class="muted small">#{m.seq} · {when(m.time)} · </span><b>{m.sender}</b>{": "}
            {m.state === "recalled" ? <i>({m.state})</i>
              : m.elements.map((e) => e.type === "text" ? e.text : `[${e.type}]`).join(" ")}
          </li>
        ))}
      </ol>
    </div>
  );
}
