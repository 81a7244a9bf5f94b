/** A conversation's messages as the chat shows them: the newest page of
 * history, older pages on demand (`beforeSeq`), live messages, changes and
 * reactions, one's own sends (the client's `sent` event), and after a
 * reconnect (the SDK has resynced the seq stream) the newest page again for
 * what is not in the stream (reactions). Also the read state: how far the
 * peer read (1:1) and each own message's read count (groups). */
import { useEffect, useRef, useState } from "preact/hooks";
import type { Client, MessageView } from "tidings-client";
import { merge, react, type Line } from "./lines.js";

const PAGE = 30;

export interface Conversation {
  lines: Line[];
  /** Older messages remain to load. */
  more: boolean;
  loadingOlder: boolean;
  /** Loads the page before the oldest shown; resolves when merged. */
  loadOlder: (limit?: number) => Promise<void>;
  setLines: (change: (lines: Line[]) => Line[]) => void;
  /** The oldest seq shown now (0: none), read at the time of the call. */
  oldestSeq: () => number;
  /** 1:1: the peer's read cursor (0 when unknown or receipts are off). */
  peerRead: number;
  /** Groups: how many have read each of one's own messages. */
  readCounts: ReadonlyMap<number, number>;
  error: unknown;
  /** The draft the server keeps (from another device, or an earlier visit). */
  draft: string;
}

export function useConversation(client: Client, conversationId: string, markRead: () => boolean): Conversation {
  const [lines, setLinesState] = useState<Line[]>([]);
  const [more, setMore] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [peerRead, setPeerRead] = useState(0);
  const [readCounts, setReadCounts] = useState<ReadonlyMap<number, number>>(new Map());
  const [error, setError] = useState<unknown>(null);
  const [draft, setDraft] = useState("");
  const current = useRef(lines);
  current.current = lines;
  const loading = useRef<Promise<void> | null>(null);
  const group = conversationId.startsWith("group_");

  const setLines = (change: (lines: Line[]) => Line[]) => setLinesState((ls) => current.current = change(ls));

  useEffect(() => {
    let live = true;
    let first = true;
    setLinesState(current.current = []);
    setMore(false);
    setPeerRead(0);
    setReadCounts(new Map());
    setError(null);
    setDraft("");
    const read = (seq: number) => { if (markRead()) void client.markRead(conversationId, seq).catch(() => {}); };
    const add = (ms: MessageView[]) => setLines((ls) => merge(ls, ms));
    const newest = () => client.history(conversationId, { limit: PAGE }).then((page) => {
      if (!live) return;
      add(page.messages);
      if (first) setMore(page.more); // later, the newest page again: older ones stay as they were
      first = false;
      const last = page.messages[page.messages.length - 1];
      if (last) read(last.seq);
      if (group) void counts(page.messages);
    }, (e: unknown) => { if (live) setError(e); });
    const counts = (ms: MessageView[]) => readCountsOf(ms).then((found) => {
      if (live) setReadCounts((rc) => new Map([...rc, ...found]));
    });
    const mine = (cid: string) => cid === conversationId;
    const offs = [
      client.on("message", (m) => { if (mine(m.conversation_id)) { add([m]); read(m.seq); } }),
      client.on("sent", (m) => { if (mine(m.conversation_id)) add([m]); }),
      client.on("change", (ch) => { if (mine(ch.conversation_id) && ch.target) add([ch.target]); }),
      client.on("reaction", (r) => {
        if (mine(r.conversation_id)) setLines((ls) => react(ls, r.seq, r.user_id, r.emoji, r.action));
      }),
      client.on("peer_read", (r) => { if (mine(r.conversation_id)) setPeerRead((p) => Math.max(p, r.peer_read_seq)); }),
      client.on("group_receipts", (r) => {
        if (mine(r.conversation_id)) {
          setReadCounts((rc) => new Map([...rc, ...r.receipts.map((x) => [x.seq, x.read_count] as const)]));
        }
      }),
      client.on("state", (s) => { if (s === "connected") void newest(); }),
    ];
    // Read while the tab was hidden: marked read when it shows again.
    const shown = () => {
      const last = current.current[current.current.length - 1];
      if (document.visibilityState === "visible" && last) read(last.seq);
    };
    document.addEventListener("visibilitychange", shown);
    offs.push(() => document.removeEventListener("visibilitychange", shown));
    void newest();
    client.conversations().then((reply) => {
      const found = reply.conversations.find((cv) => cv.conversation_id === conversationId);
      if (!live || !found) return;
      if (found.peer_read_seq) setPeerRead((p) => Math.max(p, found.peer_read_seq ?? 0));
      setDraft(found.draft);
    }, () => {});
    return () => { live = false; for (const off of offs) off(); };
  }, [client, conversationId]);

  /** Groups: the read counts of one's own messages among `ms` (at most 100). */
  async function readCountsOf(ms: MessageView[]): Promise<[number, number][]> {
    const mine = ms.filter((m) => m.sender === client.userId && m.state !== "recalled").map((m) => m.seq).slice(-100);
    if (!group || mine.length === 0) return [];
    const reply = await client.groupReceipts(conversationId.slice("group_".length), mine).catch(() => null);
    return reply ? reply.receipts.map((r) => [r.seq, r.read_count]) : [];
  }

  async function loadOlder(limit = PAGE): Promise<void> {
    if (loading.current) return loading.current;
    const oldest = current.current[0]?.seq;
    if (!oldest || oldest <= 1) { setMore(false); return; }
    setLoadingOlder(true);
    loading.current = client.history(conversationId, { beforeSeq: oldest, limit }).then((page) => {
      setLines((ls) => merge(ls, page.messages));
      setMore(page.more);
      void readCountsOf(page.messages).then((found) => setReadCounts((rc) => new Map([...found, ...rc])));
    }, (e: unknown) => setError(e)).finally(() => {
      loading.current = null;
      setLoadingOlder(false);
    });
    return loading.current;
  }

  const oldestSeq = () => current.current[0]?.seq ?? 0;
  return { lines, more, loadingOlder, loadOlder, setLines, oldestSeq, peerRead, readCounts, error, draft };
}
