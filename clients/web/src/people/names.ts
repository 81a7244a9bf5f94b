/** Display names of the people a screen shows, from their profiles
 * (`profile_get`), asked once per person; and a username made a user id
 * (`GET /v1/home/users/{username}`), since people type usernames while the
 * protocol speaks user ids. */
import { useCallback, useRef, useState } from "preact/hooks";
import type { Client, SignedIn } from "tidings-client";
import { home } from "../session.js";

export interface Names {
  nameOf: (userId: string) => string;
  /** Ask for the names not known yet (call from an effect, not while rendering). */
  need: (userIds: string[]) => void;
  /** The user ids of these usernames (comma or space separated); throws on one unknown. */
  resolve: (usernames: string) => Promise<string[]>;
}

export function useNames(client: Client, me: SignedIn): Names {
  const [names, setNames] = useState<Record<string, string>>({});
  const asked = useRef(new Set<string>());
  const need = useCallback((userIds: string[]) => {
    const missing = [...new Set(userIds)].filter((id) => id && !asked.current.has(id));
    if (!missing.length) return;
    for (const id of missing) asked.current.add(id);
    client.getProfiles(missing).then((reply) => {
      const found: Record<string, string> = {};
      for (const p of reply.profiles) found[p.user_id] = p.nickname || p.user_id;
      setNames((n) => ({ ...n, ...found }));
    }, () => { for (const id of missing) asked.current.delete(id); });
  }, [client]);
  const resolve = useCallback(async (usernames: string) => {
    const wanted = usernames.split(/[\s,，]+/).filter(Boolean);
    const cards = await Promise.all(wanted.map((u) => home.find(me, u)));
    const found: Record<string, string> = {};
    for (const c of cards) found[String(c.user_id)] = String(c.display_name || c.username || c.user_id);
    setNames((n) => ({ ...n, ...found }));
    return cards.map((c) => String(c.user_id));
  }, [me]);
  return { nameOf: (id) => names[id] ?? id, need, resolve };
}
