/** The messenger's service worker (served at /sw.js, scope /): shows a Web
 * Push notification when no tab shows the messages, and a click on it opens
 * the conversation, in a tab already open or a new one (docs/messenger.md).
 *
 * The payload is the server's (docs/push.md): `{title, body, badge,
 * conversation_id, msg_id, ext}`; the body is already what the person may
 * see (the sender's name and text, or "New message" when previews are
 * private), so nothing here can show more than the server allowed. */
import { en, languages, pickLanguage } from "../strings.js";
import { OPEN, type PushPayload } from "./messages.js";

/* The few service-worker types used here: the "webworker" lib cannot be in
 * the same TypeScript program as "dom", which the messenger needs. */
interface ExtendableEvent extends Event { waitUntil(done: Promise<unknown>): void }
interface PushEvent extends ExtendableEvent { readonly data: { json(): unknown; text(): string } | null }
interface NotificationEvent extends ExtendableEvent { readonly notification: Notification }
interface WindowClient { readonly url: string; focus(): Promise<WindowClient>; postMessage(message: unknown): void }
interface ServiceWorkerScope {
  readonly location: Location;
  readonly registration: ServiceWorkerRegistration;
  readonly navigator: Navigator;
  readonly clients: {
    matchAll(options: { type: "window"; includeUncontrolled: boolean }): Promise<WindowClient[]>;
    openWindow(url: string): Promise<WindowClient | null>;
    claim(): Promise<void>;
  };
  skipWaiting(): Promise<void>;
  addEventListener(type: "install" | "activate", listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: "push", listener: (event: PushEvent) => void): void;
  addEventListener(type: "notificationclick", listener: (event: NotificationEvent) => void): void;
}
declare const self: ServiceWorkerScope;

const t = languages[pickLanguage()] ?? en;

function parse(event: PushEvent): PushPayload {
  try {
    const data = event.data?.json();
    return data && typeof data === "object" ? data as PushPayload : {};
  } catch {
    return { body: event.data?.text() ?? "" };
  }
}

async function show(payload: PushPayload): Promise<void> {
  const conversationId = String(payload.conversation_id ?? "");
  // One notification per conversation: a newer message replaces it, and
  // still alerts (renotify: a replaced notification is silent otherwise).
  const options: NotificationOptions & { renotify?: boolean } = {
    body: payload.body || t.newMessage,
    tag: conversationId || undefined,
    renotify: conversationId !== "",
    data: { conversation_id: conversationId, msg_id: payload.msg_id ?? "" },
  };
  await self.registration.showNotification(payload.title || t.title, options);
  const badge = (self.navigator as Navigator & { setAppBadge?: (n: number) => Promise<void> }).setAppBadge;
  if (typeof payload.badge === "number" && badge) await badge.call(self.navigator, payload.badge).catch(() => {});
}

/** Focuses a tab of the messenger and tells it to open the conversation, or
 * opens a new tab at /?c=<conversation id>. */
async function openConversation(conversationId: string): Promise<void> {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const tab = windows.find((w) => new URL(w.url).origin === self.location.origin);
  if (tab) {
    tab.postMessage({ type: OPEN, conversation_id: conversationId });
    await tab.focus();
    return;
  }
  const url = conversationId ? `/?c=${encodeURIComponent(conversationId)}` : "/";
  await self.clients.openWindow(new URL(url, self.location.origin).href);
}

self.addEventListener("install", (event) => event.waitUntil(self.skipWaiting()));
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("push", (event) => event.waitUntil(show(parse(event))));
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data as { conversation_id?: string } | null;
  event.waitUntil(openConversation(String(data?.conversation_id ?? "")));
});
