/** The signed-in messenger: the conversation list (the SDK's
 * ConversationList and the linked apps' LinkedConversations, both current
 * from the live events; rendered by list/) and the open chat, or the link
 * flow when the page is a link URL. On a phone-sized screen one of the two
 * shows at a time (style.css). */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ConversationList, type Client, type ConnectionState, type LinkTicketIn, type SignedIn } from "tidings-client";
import { useChatFocus, useListArrows } from "./a11y/focus.js";
import { Chat } from "./Chat.js";
import { linkPane, useLinked } from "./links/panes.js";
import { ConversationItems } from "./list/ConversationItems.js";
import { useEndedElsewhere } from "./people/ended.js";
import { useGroupNames, useGroupTitles } from "./people/members.js";
import { People } from "./people/People.js";
import { usePending } from "./people/pending.js";
import { SectionNav, type Section } from "./people/SectionNav.js";
import { Notifications } from "./push/Notifications.js";
import { browserDeviceId, onOpenRequest, requestedAtStart } from "./push/worker.js";
import { home } from "./session.js";
import { describe } from "./SignIn.js";
import { t } from "./strings.js";
import { l } from "./links/strings.js";

const peerOf = (conversationId: string) => conversationId.replace(/^c2c_/, "");

export function Messenger({ me, onSignOut, link = null, onLinkDone }: {
  me: SignedIn; onSignOut: () => void; link?: LinkTicketIn | null; onLinkDone?: () => void;
}) {
  const client: Client = useMemo(() => home.client(me, { deviceId: browserDeviceId() }), [me]);
  const list = useMemo(() => new ConversationList(client), [client]);
  const [conversations, setConversations] = useState(list.getSnapshot());
  useEffect(() => list.subscribe(() => setConversations(list.getSnapshot())), [list]);
  const linked = useLinked(client);
  const [showLinks, setShowLinks] = useState(false);
  const [notice, setNotice] = useState("");
  const [state, setState] = useState<ConnectionState>("connecting");
  // A notification's click opens its conversation (/?c=, or the worker asks).
  const [open, setOpenState] = useState<string | null>(requestedAtStart);
  // The chat the person looks at, as of their last click: a chat just left
  // still hears its events until its effects are cleaned up (after the next
  // paint), and must not mark read what came in that while.
  const shown = useRef(open);
  const setOpen = (conversationId: string | null) => { shown.current = conversationId; setOpenState(conversationId); };
  const isShown = (conversationId: string) => shown.current === conversationId;
  const [at, setAt] = useState<{ seq: number } | null>(null); // a search hit to open the chat at
  useEffect(() => onOpenRequest(setOpen), []);
  useChatFocus(open, () => setOpen(null), "message", "peer");
  useListArrows(".conversations");
  const [names, setNames] = useState<Record<string, string>>({});
  const [peer, setPeer] = useState("");
  const [error, setError] = useState("");
  const [section, setSection] = useState<Section>("chats");
  const pending = usePending(client);
  useEndedElsewhere(client, me, onSignOut);

  useEffect(() => {
    const off = client.on("state", setState);
    // Also a load cut short by a close (signed out meanwhile) is caught.
    client.connect().then(() => list.load()).catch((e) => setError(describe(e)));
    return () => { off(); list.dispose(); client.close(); };
  }, [client, list]);

  // Names of the people in the list, from their profiles (the display name).
  useEffect(() => {
    const missing = conversations.filter((c) => c.type === "c2c" && !(peerOf(c.conversation_id) in names))
      .map((c) => peerOf(c.conversation_id));
    if (!missing.length) return;
    client.getProfiles(missing).then((reply) => {
      const found: Record<string, string> = {};
      for (const p of reply.profiles) {
        found[p.user_id] = p.nickname || p.user_id;
      }
      for (const id of missing) found[id] ??= id;
      setNames((n) => ({ ...n, ...found }));
    }, () => {});
  }, [client, conversations]);

  useGroupNames(client, open, (found) => setNames((n) => ({ ...found, ...n })));
  useGroupTitles(client, conversations.map((c) => c.conversation_id), names,
    (found) => setNames((n) => ({ ...found, ...n })));
  const nameOf = (userId: string) => names[userId] ?? userId;
  const title = (cid: string) => cid.startsWith("c2c_") ? nameOf(peerOf(cid)) : names[cid] ?? cid;
  // A chat opened from another section (a contact, a group, a search hit), with its name.
  function openNamed(cid: string, name: string, seq?: number) {
    setNames((n) => ({ ...n, [cid.startsWith("c2c_") ? peerOf(cid) : cid]: name }));
    openChat(cid);
    setAt(seq ? { seq } : null);
  }

  async function start(event: Event) {
    event.preventDefault();
    setError("");
    try {
      const card = await home.find(me, peer.trim());
      const userId = String(card.user_id);
      setNames((n) => ({ ...n, [userId]: String(card.display_name || card.username || userId) }));
      openChat(`c2c_${userId}`);
      setPeer("");
    } catch (e) {
      setError(t.notFound + " " + describe(e));
    }
  }

  function openChat(conversationId: string | null) {
    setShowLinks(false);
    setNotice(""); // the link flow's outcome, said once
    setAt(null);
    setOpen(conversationId);
  }

  const main = linkPane({ client, me, linked: linked.linked, link, showLinks, open, onLinkDone, onNotice: setNotice,
    onOpen: openChat, onClose: () => openChat(null), onSignOut, isShown })
    ?? (open && <Chat client={client} me={me.user_id} conversationId={open} name={title(open)} isShown={isShown}
      nameOf={nameOf} onBack={() => setOpen(null)} at={at} />);

  return (
    <main class={main ? "messenger has-chat" : "messenger"}>
      <SectionNav current={section} onChange={setSection} badges={pending} />
      {section !== "chats" && <People section={section} client={client} me={me} onOpen={openNamed}
        onSignOut={onSignOut} />}
      {section === "chats" && <nav class="list" aria-label={t.chats}>
        <header>
          <h1>{t.chats}</h1>
          <button type="button" class="secondary" onClick={() => { setShowLinks(true); setOpen(null); }}>
            {l.linkedApps}</button>
          <button type="button" onClick={onSignOut}>{t.signOut}</button>
        </header>
        <Notifications client={client} />
        {state !== "connected" && <p class="banner" role="status">{t.offline}</p>}
        {notice && <p class="notice" role="status">{notice}</p>}
        <form class="start" onSubmit={start}>
          <label for="peer">{t.startWith}</label>
          <div class="row">
            <input id="peer" autocomplete="off" required value={peer}
              onInput={(e) => setPeer(e.currentTarget.value)} />
            <button type="submit">{t.start}</button>
          </div>
        </form>
        {error && <p class="error" role="alert">{error}</p>}
        <ConversationItems own={conversations} linked={linked.items} identities={linked.apps}
          open={open} onOpen={openChat} title={title} />
      </nav>}
      {main}
    </main>
  );
}
