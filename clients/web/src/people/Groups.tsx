/** Groups: the person's groups (open one's details), create one (a name
 * and members by username; private, where members invite, or public,
 * where people ask to join), ask to join a public group by its id, and the
 * person's own applications (docs/groups.md). */
import { useState } from "preact/hooks";
import type { Client, MyGroup } from "tidings-client";
import { t } from "../strings.js";
import { GroupDetail } from "./GroupDetail.js";
import type { Names } from "./names.js";
import { action, useLoad } from "./useLoad.js";

export const groupConversation = (groupId: string) => `group_${groupId}`;

export function Groups({ client, me, names, onChat }: {
  client: Client; me: string; names: Names; onChat: (conversationId: string, name: string) => void;
}) {
  const { data, reload, error, setError } = useLoad(client, async () => {
    const [groups, applications] = await Promise.all([client.groups(), client.myGroupApplications()]);
    return { groups: groups.groups, applications: applications.applications };
  }, ["system", "group_left", "group_join_request_handled"], [client]);
  const [openId, setOpenId] = useState<string | null>(null);
  const act = action(setError, reload);

  if (openId) {
    return <GroupDetail client={client} me={me} groupId={openId} names={names} onChat={onChat}
      onClose={() => { setOpenId(null); reload(); }} />;
  }
  return (
    <section class="people groups" aria-labelledby="groups-title">
      <header><h1 id="groups-title">{t.section.groups}</h1></header>
      {error && <p class="error" role="alert">{error}</p>}
      {data && data.groups.length === 0 && <p class="empty">{t.noGroups}</p>}
      <ul class="rows" aria-label={t.myGroups}>
        {data?.groups.map((g: MyGroup) => (
          <li key={g.group_id}>
            <button type="button" class="plain who" onClick={() => setOpenId(g.group_id)}>
              {g.name || g.group_id}
            </button>
            <span class="muted">{t.role[g.role]}</span>
            <span class="actions">
              <button type="button" aria-label={t.chatIn(g.name || g.group_id)}
                onClick={() => onChat(groupConversation(g.group_id), g.name || g.group_id)}>{t.chat}</button>
            </span>
          </li>))}
      </ul>
      <CreateGroup client={client} names={names} act={act}
        onCreated={(id, name) => onChat(groupConversation(id), name)} />
      <JoinGroup client={client} act={act} onJoined={(id) => setOpenId(id)} />
      {data && data.applications.length > 0 && <>
        <h2>{t.myApplications}</h2>
        <ul class="rows">
          {data.applications.map((a) => (
            <li key={a.group_id}><span class="who">{a.group_id}</span>
              <span class="muted">{t.applicationState(a.state)}</span></li>))}
        </ul>
      </>}
    </section>
  );
}

type Act = (work: () => Promise<unknown>) => Promise<boolean>;

function CreateGroup({ client, names, act, onCreated }: {
  client: Client; names: Names; act: Act; onCreated: (groupId: string, name: string) => void;
}) {
  const [name, setName] = useState("");
  const [members, setMembers] = useState("");
  const [open, setOpen] = useState(false);
  async function submit(event: Event) {
    event.preventDefault();
    let created = "";
    const done = await act(async () => {
      const ids = members.trim() ? await names.resolve(members) : [];
      const reply = await client.createGroup(open
        ? { type: "Public", name: name.trim(), members: ids, join_option: "NeedPermission" }
        : { type: "Work", name: name.trim(), members: ids });
      created = reply.group_id;
    });
    if (done) {
      onCreated(created, name.trim());
      setName("");
      setMembers("");
    }
  }
  return (
    <form class="card" onSubmit={submit}>
      <h2>{t.newGroup}</h2>
      <label for="group-name">{t.groupName}</label>
      <input id="group-name" required maxLength={30} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="group-members">{t.membersByUsername}</label>
      <input id="group-members" autocomplete="off" value={members}
        onInput={(e) => setMembers(e.currentTarget.value)} />
      <label class="check">
        <input type="checkbox" checked={open} onChange={(e) => setOpen(e.currentTarget.checked)} />
        {t.publicGroup}
      </label>
      <button type="submit">{t.create}</button>
    </form>
  );
}

function JoinGroup({ client, act, onJoined }: {
  client: Client; act: Act; onJoined: (groupId: string) => void;
}) {
  const [groupId, setGroupId] = useState("");
  const [message, setMessage] = useState("");
  const [state, setState] = useState("");
  async function submit(event: Event) {
    event.preventDefault();
    setState("");
    const id = groupId.trim();
    await act(async () => {
      const reply = await client.applyToGroup(id, message.trim() || undefined);
      if (reply.state === "joined") onJoined(id);
      else setState(t.applied);
      setGroupId("");
      setMessage("");
    });
  }
  return (
    <form class="card" onSubmit={submit}>
      <h2>{t.joinGroup}</h2>
      <label for="join-id">{t.groupId}</label>
      <input id="join-id" autocomplete="off" required value={groupId}
        onInput={(e) => setGroupId(e.currentTarget.value)} />
      <label for="join-message">{t.note}</label>
      <input id="join-message" autocomplete="off" maxLength={100} value={message}
        onInput={(e) => setMessage(e.currentTarget.value)} />
      <button type="submit">{t.askToJoin}</button>
      {state && <p role="status">{state}</p>}
    </form>
  );
}
