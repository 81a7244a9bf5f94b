/** The signed-in messenger: the conversation list (the SDK's
 * ConversationList, current from the live events) and the open chat. On a
 * phone-sized screen one of the two shows at a time (style.css). */
import { useEffect, useMemo, useState } from "preact/hooks";
import { ConversationList, type Client, type ConnectionState, type SignedIn } from "tidings-client";
import { useChatFocus, useListArrows } from "./a11y/focus.js";
import { Chat } from "./Chat.js";
import { Notifications } from "./push/Notifications.js";
import { browserDeviceId, onOpenRequest, requestedAtStart } from "./push/worker.js";
import { home } from "./session.js";
import { describe } from "./SignIn.js";
import { t } from "./strings.js";

const peerOf = (conversationId: string) => conversationId.replace(/^c2c_/, "");

export function Messenger({ me, onSignOut }: { me: SignedIn; onSignOut: () => void }) {
  const client: Client = useMemo(() => home.client(me, { deviceId: browserDeviceId() }), [me]);
  const list = useMemo(() => new ConversationList(client), [client]);
  const [conversations, setConversations] = useState(list.getSnapshot());
  useEffect(() => list.subscribe(() => setConversations(list.getSnapshot())), [list]);
  const [state, setState] = useState<ConnectionState>("connecting");
  // A notification's click opens its conversation (/?c=, or the worker asks).
  const [open, setOpen] = useState<string | null>(requestedAtStart);
  useEffect(() => onOpenRequest(setOpen), []);
  useChatFocus(open, () => setOpen(null), "message", "peer");
  useListArrows(".conversations");
  const [names, setNames] = useState<Record<string, string>>({});
  const [peer, setPeer] = useState("");
  const [error, setError] = useState("");

  useEffect(() => {
    const off = client.on("state", setState);
    client.connect().then(() => list.load(), (e) => setError(describe(e)));
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

  const nameOf = (userId: string) => names[userId] ?? userId;
  const title = (cid: string) => cid.startsWith("c2c_") ? nameOf(peerOf(cid)) : cid;

  async function start(event: Event) {
    event.preventDefault();
    setError("");
    try {
      const card = await home.find(me, peer.trim());
      const userId = String(card.user_id);
      setNames((n) => ({ ...n, [userId]: String(card.display_name || card.username || userId) }));
      setOpen(`c2c_${userId}`);
      setPeer("");
    } catch (e) {
      setError(t.notFound + " " + describe(e));
    }
  }

  return (
    <main class={open ? "messenger has-chat" : "messenger"}>
      <nav class="list" aria-label={t.chats}>
        <header>
          <h1>{t.chats}</h1>
          <button type="button" onClick={onSignOut}>{t.signOut}</button>
        </header>
        <Notifications client={client} />
        {state !== "connected" && <p class="banner" role="status">{t.offline}</p>}
        <form class="start" onSubmit={start}>
          <label for="peer">{t.startWith}</label>
          <div class="row">
            <input id="peer" autocomplete="off" required value={peer}
              onInput={(e) => setPeer(e.currentTarget.value)} />
            <button type="submit">{t.start}</button>
          </div>
        </form>
        {error && <p class="error" role="alert">{error}</p>}
        {conversations.length === 0 && <p class="empty">{t.noChats}</p>}
        <ul class="conversations">
          {conversations.map((c) => (
            <li key={c.conversation_id}>
              <button type="button" class={open === c.conversation_id ? "open" : ""}
                aria-current={open === c.conversation_id ? "true" : undefined}
                onClick={() => setOpen(c.conversation_id)}>
                <span class="name">{title(c.conversation_id)}</span>
                <span class="last">{c.last_message?.elements.map((e) => e.type === "text" ? e.text : t.nonText(e.type)).join(" ") ?? ""}</span>
                {c.unread > 0 && open !== c.conversation_id &&
                  <span class="unread" aria-label={t.unread(c.unread)}>{c.unread}</span>}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      {open && <Chat client={client} me={me.user_id} conversationId={open} name={title(open)}
        nameOf={nameOf} onBack={() => setOpen(null)} />}
    </main>
  );
}
