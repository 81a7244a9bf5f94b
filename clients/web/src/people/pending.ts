/** What waits for the person's answer, for the section nav's badges:
 * friend requests to them (Contacts) and applications to the groups they
 * run (Groups). Asked once the client is connected, and again on each
 * event that can change either, and after each action of a people screen. */
import { useEffect, useState } from "preact/hooks";
import type { Client, ClientEvents } from "tidings-client";
import type { Section } from "./SectionNav.js";
import { CHANGED } from "./useLoad.js";

const EVENTS: (keyof ClientEvents)[] = ["friend_request", "friend_request_removed", "friend_added",
  "group_join_request", "group_join_request_handled", "state"];

export function usePending(client: Client): Partial<Record<Section, number>> {
  const [pending, setPending] = useState<Partial<Record<Section, number>>>({});
  useEffect(() => {
    let live = true;
    const count = () => {
      if (client.state !== "connected") return;
      Promise.all([client.friendRequests(), client.joinRequests()]).then(([friends, joins]) => {
        if (live) setPending({ contacts: friends.incoming.length,
                               groups: joins.requests.filter((r) => r.state === "pending").length });
      }, () => {});
    };
    const offs = EVENTS.map((e) => client.on(e, count));
    window.addEventListener(CHANGED, count);
    count();
    return () => { live = false; offs.forEach((off) => off()); window.removeEventListener(CHANGED, count); };
  }, [client]);
  return pending;
}
