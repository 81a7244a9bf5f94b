/** Signed download URLs of uploads (`mediaUrl`), fetched when a message
 * that shows one is rendered and kept until shortly before they expire, so
 * scrolling back and forth asks the server once per file and variant. In a
 * linked app's conversation (inside `LinkedApp`), the URL is asked as the
 * linked identity (`link_media_url`): the uploads are the app's. */
import { createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import type { Client } from "tidings-client";

/** The sdkappid whose linked identity reads the media shown inside (0: one's own). */
export const LinkedApp = createContext(0);

type Variant = "original" | "large" | "thumb" | "poster";
interface Cached { url: Promise<string>; until: number }

const caches = new WeakMap<Client, Map<string, Cached>>();
const MARGIN_MS = 60_000;

export function mediaUrl(client: Client, mediaId: string, variant: Variant = "original", app = 0): Promise<string> {
  let cache = caches.get(client);
  if (!cache) caches.set(client, cache = new Map());
  const key = `${app}/${mediaId}/${variant}`;
  const hit = cache.get(key);
  if (hit && hit.until > Date.now()) return hit.url;
  const entry: Cached = { url: Promise.resolve(""), until: Infinity };
  const asked = app ? client.linkMediaUrl({ sdkappid: app, media_id: mediaId, variant }) : client.mediaUrl(mediaId, variant);
  entry.url = asked.then((r) => {
    entry.until = r.expires_at - MARGIN_MS;
    return r.url;
  }, (error: unknown) => {
    cache!.delete(key); // ask again next time
    throw error;
  });
  cache.set(key, entry);
  return entry.url;
}

/** The URL once known ("" until then, or when there is none). */
export function useMediaUrl(client: Client, mediaId: string | undefined, variant: Variant = "original",
                            fallback?: Variant): string {
  const [url, setUrl] = useState("");
  const app = useContext(LinkedApp);
  useEffect(() => {
    if (!mediaId) return;
    let live = true;
    mediaUrl(client, mediaId, variant, app)
      .catch((error: unknown) => fallback ? mediaUrl(client, mediaId, fallback, app) : Promise.reject(error))
      .then((found) => { if (live) setUrl(found); }, () => {});
    return () => { live = false; };
  }, [client, mediaId, variant, fallback, app]);
  return url;
}
