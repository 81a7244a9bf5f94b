/** The "Notifications" switch: asks the browser's permission, subscribes to
 * Web Push with the server's VAPID key (the SDK's subscribeWebPush) and
 * registers the subscription; while it is on, a hidden tab tells the server
 * it is in the background, so a message it cannot show is pushed. "Hide the
 * text in notifications" registers the device with private previews (kept in this
 * browser): the server then sends "New message", never the text. */
import { useEffect, useState } from "preact/hooks";
import type { Client } from "tidings-client";
import { describe } from "../SignIn.js";
import { t } from "../strings.js";
import { registerWorker } from "./worker.js";
import "./push.css";

type State = "unsupported" | "off" | "on" | "blocked" | "busy";
const PRIVATE_KEY = "tidings.push.private";

const supported = () => typeof Notification !== "undefined" && "PushManager" in window
  && "serviceWorker" in navigator;

async function current(): Promise<State> {
  if (!supported()) return "unsupported";
  if (Notification.permission === "denied") return "blocked";
  const registration = await registerWorker();
  if (!registration) return "unsupported";
  const subscription = await registration.pushManager.getSubscription().catch(() => null);
  return subscription && Notification.permission === "granted" ? "on" : "off";
}

export function Notifications({ client }: { client: Client }) {
  const [state, setState] = useState<State>(supported() ? "off" : "unsupported");
  const [error, setError] = useState("");
  const [hidden, setHidden] = useState(() => localStorage.getItem(PRIVATE_KEY) === "1");
  useEffect(() => { void current().then(setState); }, []);

  useEffect(() => {
    if (state !== "on") return;
    const tell = () => {
      void client.setAppState(document.visibilityState === "hidden" ? "background" : "foreground")
        .catch(() => {});
    };
    document.addEventListener("visibilitychange", tell);
    return () => document.removeEventListener("visibilitychange", tell);
  }, [client, state]);

  async function turnOn(): Promise<State> {
    const permission = await Notification.requestPermission();
    if (permission === "denied") return "blocked";
    if (permission !== "granted") return "off";
    const registration = await registerWorker();
    if (!registration) return "unsupported";
    await client.subscribeWebPush(await navigator.serviceWorker.ready, undefined,
                                  { privatePreviews: hidden });
    return "on";
  }

  async function hideText(value: boolean) {
    setError("");
    setHidden(value);
    localStorage.setItem(PRIVATE_KEY, value ? "1" : "0");
    if (state !== "on") return;
    try {
      await client.subscribeWebPush(await navigator.serviceWorker.ready, undefined,
                                    { privatePreviews: value });
    } catch (e) {
      setError(t.notificationsFailed + describe(e));
    }
  }

  async function turnOff(): Promise<State> {
    const registration = await registerWorker();
    const subscription = await registration?.pushManager.getSubscription();
    await subscription?.unsubscribe();
    await client.unregisterPush().catch(() => {});
    return "off";
  }

  async function toggle() {
    const was = state;
    setError("");
    setState("busy");
    try {
      setState(await (was === "on" ? turnOff() : turnOn()));
    } catch (e) {
      setError(t.notificationsFailed + describe(e));
      setState(was);
    }
  }

  if (state === "unsupported") return null;
  return (
    <div class="notifications">
      <label class="switch">
        <input type="checkbox" role="switch" checked={state === "on"}
          disabled={state === "busy" || state === "blocked"} onChange={() => void toggle()} />
        {t.notifications}
      </label>
      <label class="switch">
        <input type="checkbox" checked={hidden} onChange={(e) => void hideText(e.currentTarget.checked)} />
        {t.hideText}
      </label>
      {state === "blocked" && <p class="hint">{t.notificationsBlocked}</p>}
      {error && <p class="error" role="alert">{error}</p>}
    </div>
  );
}
