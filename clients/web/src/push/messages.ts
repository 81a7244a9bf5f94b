/** What the service worker and the page share (and nothing else, so the
 * page's bundle does not carry the worker). */

/** The server's Web Push payload (docs/push.md). */
export interface PushPayload {
  title?: string; body?: string; badge?: number; conversation_id?: string; msg_id?: string;
}

/** The worker's message to an open tab: open this conversation. */
export const OPEN = "tidings.open";

/** Where the worker is served, and what it controls. */
export const WORKER_URL = "/sw.js";
export const WORKER_SCOPE = "/";
