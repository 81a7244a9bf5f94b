/** Identity as an app vouches for it (docs/linked-identity.md): the app's
 * icon, and the "verified by <app>" badge next to a card the app set. The
 * badge is drawn only from an AppCard that the server sent with a linked
 * conversation, as a shape of its own (the app's icon on a filled pill),
 * never from a nickname, a display name or message text, which are always
 * plain text: a home user named "ShopX Support ✓" shows as just that text. */
import type { ComponentChildren } from "preact";
import type { AppCard, UserCard } from "tidings-client";
import { l } from "../links/strings.js";
import "./list.css";

/** A letter tile when there is no picture: its colour (one of eight, in
 * list.css: no inline style under the CSP) follows the id, so two apps or
 * people look different without anyone choosing a colour. */
function Tile({ name, seed, className }: { name: string; seed: string; className: string }) {
  let hue = 0;
  for (const ch of seed) hue = (hue * 31 + ch.charCodeAt(0)) % 8;
  const letter = [...name.trim()][0]?.toUpperCase() ?? "?";
  return <span class={`${className} tile hue-${hue}`} aria-hidden="true">{letter}</span>;
}

export function AppIcon({ app }: { app: AppCard }) {
  return app.icon_url
    ? <img class="app-icon" src={app.icon_url} alt="" referrerpolicy="no-referrer" />
    : <Tile className="app-icon" name={app.name} seed={`app:${app.sdkappid}`} />;
}

export function Avatar({ name, url, seed }: { name: string; url?: string | null; seed: string }) {
  return url
    ? <img class="avatar" src={url} alt="" referrerpolicy="no-referrer" />
    : <Tile className="avatar" name={name} seed={seed} />;
}

/** The badge: the app's icon and name on a filled pill with a check mark. */
export function Verified({ app }: { app: AppCard }) {
  return (
    <span class="verified" data-sdkappid={app.sdkappid} title={l.verifiedBy(app.name)}>
      <AppIcon app={app} />
      <svg class="check" viewBox="0 0 16 16" aria-hidden="true"><path d="M6.2 11.4 2.8 8l1.1-1.1 2.3 2.3 5.9-5.9 1.1 1.1z" /></svg>
      <span class="verified-text">{l.verifiedBy(app.name)}</span>
    </span>
  );
}

export const nameOfCard = (card: UserCard): string => card.nickname || card.user_id;

/** A user of an app as the app set them: avatar with the app's icon on its
 * corner, nickname and the badge on one line, then `children` (the last
 * message, in the list). */
export function PeerCard({ app, card, children }: { app: AppCard; card: UserCard; children?: ComponentChildren }) {
  return (
    <span class="peer-card">
      <span class="avatar-with-app">
        <Avatar name={nameOfCard(card)} url={card.avatar_url} seed={`${app.sdkappid}:${card.user_id}`} />
        <AppIcon app={app} />
      </span>
      <span class="peer-names">
        <span class="name-line"><span class="name">{nameOfCard(card)}</span><Verified app={app} /></span>
        {children}
      </span>
    </span>
  );
}
