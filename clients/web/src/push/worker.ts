/** The page's side of the service worker: registering it, the conversation
 * a notification click asks to open (at start from `/?c=<id>`, or later by a
 * message from the worker), and forgetting the browser's push subscription
 * at sign-out. The messenger works the same where there is no worker. */
import { OPEN, WORKER_SCOPE, WORKER_URL } from "./messages.js";

let registering: Promise<ServiceWorkerRegistration | null> | undefined;
const DEVICE_KEY = "tidings.device";

/** This browser's device id, kept across reloads: the server keeps a push
 * registration per device, so a new id at each load would leave the old
 * registration (the same subscription) behind, and each push would come
 * twice, the old one with its own privacy setting. */
export function browserDeviceId(): string {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = `web-${Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

/** The worker's registration (registered once per load), or null where the
 * browser has no service workers or refused this one. */
export function registerWorker(): Promise<ServiceWorkerRegistration | null> {
  registering ??= "serviceWorker" in navigator
    ? navigator.serviceWorker.register(WORKER_URL, { scope: WORKER_SCOPE }).catch(() => null)
    : Promise.resolve(null);
  return registering;
}

/** The conversation named by `?c=` (a notification's link), taken out of the
 * address bar so a reload does not open it again. */
export function requestedAtStart(): string | null {
  const url = new URL(location.href);
  const wanted = url.searchParams.get("c");
  if (wanted === null) return null;
  url.searchParams.delete("c");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  return wanted || null;
}

/** Calls `open` with each conversation the worker asks this tab to show. */
export function onOpenRequest(open: (conversationId: string) => void): () => void {
  if (!("serviceWorker" in navigator)) return () => {};
  const listener = (event: MessageEvent) => {
    const data = event.data as { type?: string; conversation_id?: unknown } | null;
    if (data?.type === OPEN && typeof data.conversation_id === "string" && data.conversation_id) {
      open(data.conversation_id);
    }
  };
  navigator.serviceWorker.addEventListener("message", listener);
  return () => navigator.serviceWorker.removeEventListener("message", listener);
}

/** Ends this browser's push subscription (at sign-out): the push service
 * then refuses the server's next push and the server drops the device. */
export async function forgetPush(): Promise<void> {
  const registration = await registerWorker();
  const subscription = await registration?.pushManager?.getSubscription().catch(() => null);
  await subscription?.unsubscribe().catch(() => false);
}
