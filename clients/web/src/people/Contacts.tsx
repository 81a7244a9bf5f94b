/** Contacts: friend requests (send with a note, accept, decline, withdraw),
 * friends (chat, remove, block) and blocked people (unblock), current
 * through the friend and blocklist events (docs/friends.md). */
import { useEffect, useState } from "preact/hooks";
import type { Client } from "tidings-client";
import { t } from "../strings.js";
import { ConfirmButton } from "./ConfirmButton.js";
import type { Names } from "./names.js";
import { action, useLoad } from "./useLoad.js";

export function Contacts({ client, names, onChat }: {
  client: Client; names: Names; onChat: (conversationId: string) => void;
}) {
  const { data, reload, error, setError } = useLoad(client, async () => {
    const [friends, requests, blocked] = await Promise.all(
      [client.friends(), client.friendRequests(), client.blocklist()]);
    return { friends: friends.friends, incoming: requests.incoming, outgoing: requests.outgoing,
             blocked: blocked.blocked };
  }, ["friend_request", "friend_request_removed", "friend_added", "friend_deleted", "friend_updated",
      "blocklist"], [client]);
  const [username, setUsername] = useState("");
  const [note, setNote] = useState("");
  const [sent, setSent] = useState("");
  const act = action(setError, reload);
  const { nameOf } = names;

  useEffect(() => {
    if (data) names.need([...data.friends.map((f) => f.user_id), ...data.incoming.map((r) => r.from),
                         ...data.outgoing.map((r) => r.to), ...data.blocked.map((b) => b.user_id)]);
  }, [data]);

  async function add(event: Event) {
    event.preventDefault();
    setSent("");
    await act(async () => {
      const [userId] = await names.resolve(username.trim());
      const reply = await client.addFriend({ user_id: userId!, wording: note.trim(), source: "AddSource_Type_Web" });
      setSent(reply.result === "pending" ? t.requestSent : t.nowFriends(nameOf(userId!)));
      setUsername("");
      setNote("");
    });
  }

  return (
    <section class="people contacts" aria-labelledby="contacts-title">
      <header><h1 id="contacts-title">{t.section.contacts}</h1></header>
      <form class="card" onSubmit={add}>
        <h2>{t.addFriend}</h2>
        <label for="friend-username">{t.username}</label>
        <input id="friend-username" autocomplete="off" required value={username}
          onInput={(e) => setUsername(e.currentTarget.value)} />
        <label for="friend-note">{t.note}</label>
        <input id="friend-note" autocomplete="off" maxLength={80} value={note}
          onInput={(e) => setNote(e.currentTarget.value)} />
        <button type="submit">{t.sendRequest}</button>
        {sent && <p role="status">{sent}</p>}
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {data && data.incoming.length > 0 && <>
        <h2>{t.requestsToMe}</h2>
        <ul class="rows">
          {data.incoming.map((r) => (
            <li key={r.from}>
              <span class="who">{nameOf(r.from)}</span>
              {r.wording && <q class="note">{r.wording}</q>}
              <span class="actions">
                <button type="button" aria-label={t.acceptFrom(nameOf(r.from))}
                  onClick={() => act(() => client.acceptFriend(r.from))}>{t.accept}</button>
                <button type="button" class="quiet" aria-label={t.declineFrom(nameOf(r.from))}
                  onClick={() => act(() => client.declineFriend(r.from))}>{t.decline}</button>
              </span>
            </li>))}
        </ul>
      </>}
      {data && data.outgoing.length > 0 && <>
        <h2>{t.requestsByMe}</h2>
        <ul class="rows">
          {data.outgoing.map((r) => (
            <li key={r.to}>
              <span class="who">{nameOf(r.to)}</span>
              <span class="muted">{t.waiting}</span>
              <span class="actions">
                <button type="button" class="quiet" aria-label={t.withdrawTo(nameOf(r.to))}
                  onClick={() => act(() => client.withdrawFriend(r.to))}>{t.withdraw}</button>
              </span>
            </li>))}
        </ul>
      </>}
      <h2>{t.friends}</h2>
      {data && data.friends.length === 0 && <p class="empty">{t.noFriends}</p>}
      <ul class="rows" aria-label={t.friends}>
        {data?.friends.map((f) => (
          <li key={f.user_id}>
            <span class="who">{f.remark || nameOf(f.user_id)}</span>
            <span class="actions">
              <Remark name={nameOf(f.user_id)} remark={f.remark}
                save={(remark) => act(() => client.setFriendRemark(f.user_id, remark))} />
              <button type="button" aria-label={t.chatWith(nameOf(f.user_id))}
                onClick={() => onChat(`c2c_${f.user_id}`)}>{t.chat}</button>
              <ConfirmButton class="quiet" label={t.removeFriend(nameOf(f.user_id))}
                onConfirm={() => act(() => client.deleteFriends([f.user_id]))}>{t.remove}</ConfirmButton>
              <button type="button" class="danger" aria-label={t.blockWho(nameOf(f.user_id))}
                onClick={() => act(() => client.block([f.user_id]))}>{t.block}</button>
            </span>
          </li>))}
      </ul>
      {data && data.blocked.length > 0 && <>
        <h2>{t.blocked}</h2>
        <ul class="rows" aria-label={t.blocked}>
          {data.blocked.map((b) => (
            <li key={b.user_id}>
              <span class="who">{nameOf(b.user_id)}</span>
              <span class="actions">
                <button type="button" aria-label={t.unblockWho(nameOf(b.user_id))}
                  onClick={() => act(() => client.unblock([b.user_id]))}>{t.unblock}</button>
              </span>
            </li>))}
        </ul>
      </>}
      <BlockByName client={client} names={names} act={act} />
    </section>
  );
}

/** Block someone who is not a friend (a stranger who writes), by username. */
function BlockByName({ client, names, act }: {
  client: Client; names: Names; act: (work: () => Promise<unknown>) => Promise<boolean>;
}) {
  const [username, setUsername] = useState("");
  async function submit(event: Event) {
    event.preventDefault();
    if (await act(async () => client.block(await names.resolve(username.trim())))) setUsername("");
  }
  return (
    <form class="card" onSubmit={submit}>
      <label for="block-username">{t.blockByName}</label>
      <div class="row">
        <input id="block-username" autocomplete="off" required value={username}
          onInput={(e) => setUsername(e.currentTarget.value)} />
        <button type="submit" class="danger">{t.block}</button>
      </div>
    </form>
  );
}

/** The name the person gives a friend (a remark: only they see it); empty
 * goes back to the friend's own display name. */
function Remark({ name, remark, save }: { name: string; remark: string; save: (remark: string) => Promise<boolean> }) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(remark);
  if (!editing) {
    return <button type="button" class="quiet" aria-label={t.renameWho(name)}
      onClick={() => { setValue(remark); setEditing(true); }}>{t.rename}</button>;
  }
  return (
    <form class="row remark" onSubmit={async (e) => { e.preventDefault(); if (await save(value.trim())) setEditing(false); }}>
      <input aria-label={t.remarkFor(name)} maxLength={32} value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      <button type="submit">{t.save}</button>
    </form>
  );
}
