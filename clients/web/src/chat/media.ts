/** Signed download URLs of uploads (`mediaUrl`), fetched when a message
 * that shows one is rendered and kept until shortly before they expire, so
 * scrolling back and forth asks the server once per file and variant. */
import { useEffect, useState } from "preact/hooks";
import type { Client } from "tidings-client";

type Variant = "original" | "large" | "thumb" | "poster";
interface Cached { url: Promise<string>; until: number }

const caches = new WeakMap<Client, Map<string, Cached>>();
const MARGIN_MS = 60_000;

export function mediaUrl(client: Client, mediaId: string, variant: Variant = "original"): Promise<string> {
  let cache = caches.get(client);
  if (!cache) caches.set(client, cache = new Map());
  const key = `${mediaId}/${variant}`;
  const hit = cache.get(key);
  if (hit && hit.until > Date.now()) return hit.url;
  const entry: Cached = { url: Promise.resolve(""), until: Infinity };
  entry.url = client.mediaUrl(mediaId, variant).then((r) => {
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
  useEffect(() => {
    if (!mediaId) return;
    let live = true;
    mediaUrl(client, mediaId, variant)
      .catch((error: unknown) => fallback ? mediaUrl(client, mediaId, fallback) : Promise.reject(error))
      .then((found) => { if (live) setUrl(found); }, () => {});
    return () => { live = false; };
  }, [client, mediaId, variant, fallback]);
  return url;
}
