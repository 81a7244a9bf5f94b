/** A group's members, every page of them; and the hooks that give the
 * messenger the names of an open group chat's members (its messages show
 * who wrote them rather than a user id) and of the groups in its list. */
import { useEffect } from "preact/hooks";
import type { Client, GroupMember } from "tidings-client";

export async function allMembers(client: Client, groupId: string): Promise<GroupMember[]> {
  const members: GroupMember[] = [];
  for (let after: string | undefined; ;) {
    const page = await client.groupMembers({ group_id: groupId, limit: 100, ...(after ? { after } : {}) });
    members.push(...page.members);
    if (!page.more || !page.members.length) return members;
    after = page.members[page.members.length - 1]!.user_id;
  }
}

/** Calls `add` with the display names (a name card first) of the members
 * of the group chat `conversationId`, when it is one, and again after each
 * of its system entries (a member joined while it is open). */
export function useGroupNames(client: Client, conversationId: string | null,
                              add: (names: Record<string, string>) => void): void {
  useEffect(() => {
    if (!conversationId?.startsWith("group_")) return;
    let live = true;
    const load = async () => {
      const members = await allMembers(client, conversationId.slice("group_".length));
      const found: Record<string, string> = {};
      for (let i = 0; i < members.length; i += 100) {
        const reply = await client.getProfiles(members.slice(i, i + 100).map((m) => m.user_id));
        for (const p of reply.profiles) found[p.user_id] = p.nickname || p.user_id;
      }
      for (const m of members) if (m.name_card) found[m.user_id] = m.name_card;
      if (live) add(found);
    };
    load().catch(() => {});
    // Someone joined, was invited or renamed while the chat is open.
    const off = client.on("system", (entry) => {
      if (entry.conversation_id === conversationId) load().catch(() => {});
    });
    return () => { live = false; off(); };
  }, [client, conversationId]);
}

/** Calls `add` with the names of the person's groups (by conversation id)
 * when the list has a group conversation whose name is not known yet. */
export function useGroupTitles(client: Client, conversationIds: string[], known: Record<string, string>,
                               add: (names: Record<string, string>) => void): void {
  const missing = conversationIds.filter((cid) => cid.startsWith("group_") && !(cid in known)).join(" ");
  useEffect(() => {
    if (!missing) return;
    let live = true;
    client.groups().then((reply) => {
      const found: Record<string, string> = {};
      for (const g of reply.groups) found[`group_${g.group_id}`] = g.name || g.group_id;
      // A group left meanwhile keeps its id as its name rather than asking again.
      for (const cid of missing.split(" ")) found[cid] ??= cid.slice("group_".length);
      if (live) add(found);
    }, () => {});
    return () => { live = false; };
  }, [client, missing]);
}
