/** A group's members, every page of them; and the hook that gives the
 * messenger the names of an open group chat's members, so its messages
 * show who wrote them rather than a user id. */
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
 * of the group chat `conversationId`, when it is one. */
export function useGroupNames(client: Client, conversationId: string | null,
                              add: (names: Record<string, string>) => void): void {
  useEffect(() => {
    if (!conversationId?.startsWith("group_")) return;
    let live = true;
    (async () => {
      const members = await allMembers(client, conversationId.slice("group_".length));
      const found: Record<string, string> = {};
      for (let i = 0; i < members.length; i += 100) {
        const reply = await client.getProfiles(members.slice(i, i + 100).map((m) => m.user_id));
        for (const p of reply.profiles) found[p.user_id] = p.nickname || p.user_id;
      }
      for (const m of members) if (m.name_card) found[m.user_id] = m.name_card;
      if (live) add(found);
    })().catch(() => {});
    return () => { live = false; };
  }, [client, conversationId]);
}
