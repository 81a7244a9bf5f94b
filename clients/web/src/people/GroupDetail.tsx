/** One group's details: its profile (edit it where the role allows), the
 * person's own mute of its notifications, its members with their roles
 * (change a role, remove a member, invite by username), the join
 * applications waiting for an answer, and leaving. Current through the
 * group's system entries and the join events. */
import { useEffect, useState } from "preact/hooks";
import type { Client, GroupInfo } from "tidings-client";
import { t } from "../strings.js";
import { ConfirmButton } from "./ConfirmButton.js";
import { groupConversation } from "./Groups.js";
import { allMembers } from "./members.js";
import type { Names } from "./names.js";
import { rights } from "./rights.js";
import { action, useLoad } from "./useLoad.js";
import { when } from "./when.js";

export function GroupDetail({ client, me, groupId, names, onChat, onClose }: {
  client: Client; me: string; groupId: string; names: Names;
  onChat: (conversationId: string, name: string) => void; onClose: () => void;
}) {
  const conversationId = groupConversation(groupId);
  const { data, reload, error, setError } = useLoad(client, async () => {
    const [info, members, conversations] = await Promise.all([
      client.groupInfo(groupId), allMembers(client, groupId), client.conversations(200)]);
    const mine = members.find((m) => m.user_id === me)?.role;
    const requests = mine === "Owner" || mine === "Admin"
      ? (await client.joinRequests(groupId)).requests.filter((r) => r.state === "pending") : [];
    const muted = conversations.conversations.find((c) => c.conversation_id === conversationId)?.muted ?? false;
    return { info, members, requests, muted };
  }, ["system", "group_join_request", "group_join_request_handled", "conversation_settings"], [client, groupId]);
  const act = action(setError, reload);
  const [saved, setSaved] = useState(false);
  const { nameOf } = names;
  useEffect(() => {
    if (data) names.need([...data.members.map((m) => m.user_id), ...data.requests.map((r) => r.user_id)]);
  }, [data]);

  if (!data) {
    return (
      <section class="people group" aria-label={t.groupDetails}>
        <header><button type="button" class="plain" onClick={onClose}>‹ {t.section.groups}</button></header>
        {error ? <p class="error" role="alert">{error}</p> : <p role="status">…</p>}
      </section>
    );
  }
  const { info, members, requests, muted } = data;
  const mine = members.find((m) => m.user_id === me)?.role;
  const can = rights(info.type, mine);
  const title = info.name || info.group_id;

  return (
    // Named apart from the chat view beside it (a region named after the group).
    <section class="people group" aria-label={`${t.groupDetails}: ${title}`}>
      <header>
        <button type="button" class="plain" onClick={onClose} aria-label={t.backToGroups}>‹</button>
        <h1 id="group-title">{title}</h1>
        <button type="button" onClick={() => onChat(conversationId, title)}>{t.openChat}</button>
      </header>
      {error && <p class="error" role="alert">{error}</p>}
      <p class="muted">{t.groupIdIs(info.group_id)} · {t.memberCount(info.member_count)}</p>
      <Toggle checked={muted} label={t.muteGroup}
        change={(v) => act(() => client.setConversation(conversationId, { muted: v }))} />
      {can.muteAll && <Toggle checked={info.mute_all} label={t.muteAll}
        change={(v) => act(() => client.muteGroup(groupId, v))} />}
      {can.update ? <GroupProfile key={info.updated_at} info={info} saved={saved}
        save={async (patch) => setSaved(await act(() => client.updateGroup({ group_id: groupId, ...patch })))} />
        : info.introduction && <p>{info.introduction}</p>}
      {can.answerJoins && requests.length > 0 && <>
        <h2>{t.joinRequests}</h2>
        <ul class="rows" aria-label={t.joinRequests}>
          {requests.map((r) => (
            <li key={r.user_id}>
              <span class="who">{nameOf(r.user_id)}</span>
              {r.message && <q class="note">{r.message}</q>}
              <span class="actions">
                <button type="button" aria-label={t.approveWho(nameOf(r.user_id))}
                  onClick={() => act(() => client.approveJoin(groupId, r.user_id))}>{t.approve}</button>
                <button type="button" class="quiet" aria-label={t.rejectWho(nameOf(r.user_id))}
                  onClick={() => act(() => client.declineJoin(groupId, r.user_id))}>{t.reject}</button>
              </span>
            </li>))}
        </ul>
      </>}
      <h2>{t.members}</h2>
      <ul class="rows" aria-label={t.members}>
        {members.map((m) => (
          <li key={m.user_id} data-user={m.user_id}>
            <span class="who">{m.name_card || nameOf(m.user_id)}{m.user_id === me ? ` (${t.you})` : ""}</span>
            {can.setRole(m.role) ? (
              <select aria-label={t.roleOf(nameOf(m.user_id))} value={m.role}
                onChange={(e) => { const role = e.currentTarget.value as "Admin" | "Member";
                  void act(() => client.setGroupRole(groupId, m.user_id, role)); }}>
                <option value="Member">{t.role.Member}</option>
                <option value="Admin">{t.role.Admin}</option>
              </select>
            ) : <span class="role">{t.role[m.role]}</span>}
            {m.muted_until > Date.now() && <span class="role">{t.mutedUntil(when(m.muted_until))}</span>}
            {m.user_id !== me && (can.kick(m.role) || can.transfer) && (
              <span class="actions">
                {can.mute(m.role) && (m.muted_until > Date.now()
                  ? <button type="button" class="quiet" aria-label={t.unmuteWho(nameOf(m.user_id))}
                      onClick={() => act(() => client.muteMember(groupId, m.user_id, 0))}>{t.unmute}</button>
                  : <button type="button" class="quiet" aria-label={t.muteWho(nameOf(m.user_id))}
                      onClick={() => act(() => client.muteMember(groupId, m.user_id, 3600))}>{t.muteHour}</button>)}
                {can.transfer && <ConfirmButton class="quiet" label={t.makeOwnerWho(nameOf(m.user_id))}
                  onConfirm={() => act(() => client.transferGroup(groupId, m.user_id))}>{t.makeOwner}</ConfirmButton>}
                {can.kick(m.role) && <ConfirmButton class="quiet" label={t.removeMember(nameOf(m.user_id))}
                  onConfirm={() => act(() => client.kickFromGroup(groupId, [m.user_id]))}>{t.remove}</ConfirmButton>}
              </span>)}
          </li>))}
      </ul>
      {can.invite && <Invite act={act} invite={async (usernames) =>
        client.inviteToGroup(groupId, await names.resolve(usernames))} />}
      {can.leave && <ConfirmButton onConfirm={async () => {
        if (await act(() => client.leaveGroup(groupId))) onClose();
      }}>{t.leaveGroup}</ConfirmButton>}
      {can.disband && <ConfirmButton onConfirm={async () => {
        if (await act(() => client.disbandGroup(groupId))) onClose();
      }}>{t.disband}</ConfirmButton>}
    </section>
  );
}

type Act = (work: () => Promise<unknown>) => Promise<boolean>;

/** A setting saved as it is switched; switched off while the server has
 * not answered, so that what shows is what is kept. */
function Toggle({ checked, label, change }: {
  checked: boolean; label: string; change: (value: boolean) => Promise<boolean>;
}) {
  const [saving, setSaving] = useState(false);
  // What was asked shows until the screen's data says it (or it failed).
  const [wanted, setWanted] = useState<boolean | null>(null);
  useEffect(() => setWanted(null), [checked]);
  function switched(value: boolean) {
    setWanted(value);
    setSaving(true);
    change(value).then((ok) => { if (!ok) setWanted(null); }).finally(() => setSaving(false));
  }
  return (
    <label class="check">
      <input type="checkbox" checked={wanted ?? checked} disabled={saving}
        onChange={(e) => switched(e.currentTarget.checked)} />
      {label}
    </label>
  );
}

function GroupProfile({ info, saved, save }: {
  info: GroupInfo; saved: boolean;
  save: (patch: { name: string; introduction: string; face_url: string }) => Promise<void>;
}) {
  const [name, setName] = useState(info.name);
  const [introduction, setIntroduction] = useState(info.introduction);
  const [face, setFace] = useState(info.face_url);
  return (
    <form class="card" onSubmit={(e) => { e.preventDefault(); void save(
      { name: name.trim(), introduction: introduction.trim(), face_url: face.trim() }); }}>
      <h2>{t.groupProfile}</h2>
      <label for="edit-group-name">{t.groupName}</label>
      <input id="edit-group-name" required maxLength={30} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="edit-group-intro">{t.introduction}</label>
      <textarea id="edit-group-intro" maxLength={130} value={introduction}
        onInput={(e) => setIntroduction(e.currentTarget.value)} />
      <label for="edit-group-face">{t.pictureUrl}</label>
      <input id="edit-group-face" type="url" value={face} onInput={(e) => setFace(e.currentTarget.value)} />
      <button type="submit">{t.save}</button>
      {saved && <p role="status">{t.saved}</p>}
    </form>
  );
}

function Invite({ act, invite }: { act: Act; invite: (usernames: string) => Promise<unknown> }) {
  const [usernames, setUsernames] = useState("");
  return (
    <form class="card" onSubmit={async (e) => { e.preventDefault();
      if (await act(() => invite(usernames))) setUsernames(""); }}>
      <label for="invite-usernames">{t.inviteByUsername}</label>
      <div class="row">
        <input id="invite-usernames" autocomplete="off" required value={usernames}
          onInput={(e) => setUsernames(e.currentTarget.value)} />
        <button type="submit">{t.invite}</button>
      </div>
    </form>
  );
}
