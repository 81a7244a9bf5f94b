/** The one conversation list: the person's own chats and the conversations
 * of every linked app identity, merged and sorted by last activity (pinned
 * first), with a chip per app to filter ("All", "Personal", each app). An
 * app conversation shows the peer as the app vouches for them (PeerCard);
 * an own chat shows the name as text only, whatever it says. */
import { useState } from "preact/hooks";
import type { ConversationView, MessageView } from "tidings-client";
import { language, t } from "../strings.js";
import { l } from "../links/strings.js";
import { AppIcon, Avatar, nameOfCard, PeerCard, Verified } from "./Cards.js";
import type { Identity, LinkedConversation } from "./linked.js";

type Filter = "all" | "personal" | number;
type Item = { conversation: ConversationView; link?: Identity };

export function lastText(m: Pick<MessageView, "elements" | "state"> | null | undefined): string {
  if (!m) return "";
  if (m.state === "recalled") return t.recalled;
  return m.elements.map((e) => e.type === "text" ? e.text : t.nonText(e.type)).join(" ");
}

const clock = new Intl.DateTimeFormat(language, { hour: "2-digit", minute: "2-digit" });
const weekday = new Intl.DateTimeFormat(language, { weekday: "short" });
const day = new Intl.DateTimeFormat(language, { month: "short", day: "numeric" });

/** When the last message came: its time today, its weekday within the
 * week, else its date (the full date and time on hover). */
export function when(ms: number, now = Date.now()): string {
  const then = new Date(ms);
  if (new Date(now).toDateString() === then.toDateString()) return clock.format(then);
  return (now - ms < 6 * 86_400_000 ? weekday : day).format(then);
}

/** Every row, own and linked, in list order. */
function merged(own: readonly ConversationView[], linked: readonly LinkedConversation[]): Item[] {
  const items: Item[] = own.map((conversation) => ({ conversation }));
  for (const { conversation, app, as } of linked) items.push({ conversation, link: { app, as } });
  return items.sort((a, b) => Number(b.conversation.pinned) - Number(a.conversation.pinned) ||
    b.conversation.last_time - a.conversation.last_time ||
    a.conversation.conversation_id.localeCompare(b.conversation.conversation_id));
}

const shows = (filter: Filter, item: Item): boolean =>
  filter === "all" || (filter === "personal" ? !item.link : item.link?.app.sdkappid === filter);

/** Each chip's unread count, from the very rows the list shows (muted ones
 * left out): a chip cannot count other conversations, or other states of
 * them, than its rows. */
function unreadBy(items: readonly Item[]): { all: number; personal: number; app: Map<number, number> } {
  const counts = { all: 0, personal: 0, app: new Map<number, number>() };
  for (const { conversation: c, link } of items) {
    if (c.muted || c.unread <= 0) continue;
    counts.all += c.unread;
    if (!link) counts.personal += c.unread;
    else counts.app.set(link.app.sdkappid, (counts.app.get(link.app.sdkappid) ?? 0) + c.unread);
  }
  return counts;
}

function Chip({ pressed, onClick, unread, children }: {
  pressed: boolean; onClick: () => void; unread: number; children: preact.ComponentChildren;
}) {
  return (
    <button type="button" aria-pressed={pressed} onClick={onClick}>
      {children}
      {unread > 0 && <span class="count" aria-label={t.unread(unread)}>{unread}</span>}
    </button>
  );
}

function Entry({ item, title }: { item: Item; title: (cid: string) => string }) {
  const c = item.conversation;
  const link = item.link;
  const last = <span class="last">{lastText(c.last_message)}</span>;
  if (!link) {
    const name = title(c.conversation_id);
    return (
      <span class="peer-card">
        <Avatar name={name} seed={c.conversation_id} />
        <span class="peer-names"><span class="name">{name}</span>{last}</span>
      </span>
    );
  }
  if (c.peer_card) return <PeerCard app={link.app} card={c.peer_card}>{last}</PeerCard>;
  // A group of the app: its id, with the app's own mark (not a person's card).
  return (
    <span class="peer-card">
      <AppIcon app={link.app} />
      <span class="peer-names">
        <span class="name-line">
          <span class="name">{c.conversation_id.replace(/^app:\d+:group_/, "")}</span><Verified app={link.app} />
        </span>
        {last}
      </span>
    </span>
  );
}

export function ConversationItems({ own, linked, identities, open, onOpen, title }: {
  own: readonly ConversationView[]; linked: readonly LinkedConversation[]; identities: readonly Identity[];
  open: string | null; onOpen: (conversationId: string) => void; title: (conversationId: string) => string;
}) {
  const [filter, setFilter] = useState<Filter>("all");
  // An app unlinked meanwhile (from another device too) falls back to "All".
  const chosen = typeof filter === "number" && !identities.some((i) => i.app.sdkappid === filter) ? "all" : filter;
  const all = merged(own, linked);
  const unread = unreadBy(all);
  const items = all.filter((item) => shows(chosen, item));
  return (
    <>
      {identities.length > 0 && (
        <div class="chips" role="group" aria-label={l.filterByApp}>
          <Chip pressed={chosen === "all"} onClick={() => setFilter("all")} unread={unread.all}>{l.all}</Chip>
          <Chip pressed={chosen === "personal"} onClick={() => setFilter("personal")} unread={unread.personal}>
            {l.personal}
          </Chip>
          {identities.map(({ app }) => (
            <Chip key={app.sdkappid} pressed={chosen === app.sdkappid} onClick={() => setFilter(app.sdkappid)}
              unread={unread.app.get(app.sdkappid) ?? 0}>
              <AppIcon app={app} />{app.name}
            </Chip>
          ))}
        </div>
      )}
      {items.length === 0 && <p class="empty">{chosen === "all" || chosen === "personal" ? t.noChats : l.noAppChats}</p>}
      <ul class="conversations">
        {items.map((item) => {
          const c = item.conversation;
          const here = open === c.conversation_id;
          return (
            <li key={c.conversation_id} data-app={item.link?.app.sdkappid}>
              <button type="button" class={here ? "open" : ""} aria-current={here ? "true" : undefined}
                title={item.link ? l.youAre(nameOfCard(item.link.as), item.link.app.name) : undefined}
                onClick={() => onOpen(c.conversation_id)}>
                <Entry item={item} title={title} />
                <span class="marks">
                  {c.last_time > 0 &&
                    <time dateTime={new Date(c.last_time).toISOString()} title={new Date(c.last_time).toLocaleString(language)}>
                      {when(c.last_time)}</time>}
                  <span class="flags">
                  {c.pinned && <span class="mark" aria-label={l.pinned}>📌</span>}
                  {c.muted && <span class="mark" aria-label={l.muted}>🔕</span>}
                  {c.unread > 0 && !here &&
                    <span class={c.muted ? "unread muted" : "unread"} aria-label={t.unread(c.unread)}>{c.unread}</span>}
                  </span>
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </>
  );
}
