/** The sections beside Chats (Search, Contacts, Groups, Me): the one shown
 * in the messenger's left pane. `onOpen` opens a conversation in the chat
 * view (with its name; at a message for a search result). */
import { useEffect, useState } from "preact/hooks";
import type { Client, SignedIn } from "tidings-client";
import { Contacts } from "./Contacts.js";
import { Groups } from "./Groups.js";
import { Me } from "./Me.js";
import { useNames } from "./names.js";
import { Search } from "./Search.js";
import type { Section } from "./SectionNav.js";

export function People({ section, client, me, onOpen, onSignOut }: {
  section: Exclude<Section, "chats">; client: Client; me: SignedIn;
  onOpen: (conversationId: string, name: string, seq?: number) => void; onSignOut: () => void;
}) {
  const names = useNames(client, me);
  const [groupNames, setGroupNames] = useState<Record<string, string>>({});
  useEffect(() => {
    if (section !== "search") return;
    client.groups().then((r) => setGroupNames(Object.fromEntries(
      r.groups.map((g) => [`group_${g.group_id}`, g.name || g.group_id]))), () => {});
  }, [client, section]);
  const title = (cid: string) => cid.startsWith("c2c_") ? names.nameOf(cid.slice(4)) : groupNames[cid] ?? cid;
  const openChat = (cid: string, name?: string, seq?: number) => onOpen(cid, name ?? title(cid), seq);

  switch (section) {
    case "contacts": return <Contacts client={client} names={names} onChat={(cid) => openChat(cid)} />;
    case "groups": return <Groups client={client} me={me.user_id} names={names} onChat={openChat} />;
    case "search": return <Search client={client} names={names} title={title}
      onOpen={(cid, seq) => openChat(cid, undefined, seq)} />;
    case "me": return <Me client={client} me={me} onSignOut={onSignOut} />;
  }
}
