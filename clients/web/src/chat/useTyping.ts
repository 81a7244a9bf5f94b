/** Who is typing in a conversation, from the others' `typing` events: shown
 * until they stop, send, or nothing was heard for a few seconds (a `typing`
 * false may never come from a tab that closed). */
import { useEffect, useState } from "preact/hooks";
import type { Client } from "tidings-client";

const SHOWN_MS = 6000;

export function useTyping(client: Client, conversationId: string): string[] {
  const [until, setUntil] = useState<Record<string, number>>({});
  useEffect(() => {
    setUntil({});
    const set = (userId: string, typing: boolean) => setUntil((u) => {
      const { [userId]: _, ...rest } = u;
      return typing ? { ...rest, [userId]: Date.now() + SHOWN_MS } : rest;
    });
    const offs = [
      client.on("typing", (e) => { if (e.conversation_id === conversationId) set(e.user_id, e.typing); }),
      client.on("message", (m) => { if (m.conversation_id === conversationId) set(m.sender, false); }),
    ];
    return () => { for (const off of offs) off(); };
  }, [client, conversationId]);
  const typers = Object.keys(until);
  useEffect(() => {
    if (typers.length === 0) return;
    const next = Math.min(...Object.values(until)) - Date.now();
    const timer = setTimeout(() => setUntil((u) => Object.fromEntries(
      Object.entries(u).filter(([, end]) => end > Date.now()))), Math.max(50, next));
    return () => clearTimeout(timer);
  }, [until]);
  return typers.filter((u) => u !== client.userId).sort();
}
