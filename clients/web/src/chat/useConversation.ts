/** A conversation's messages as the chat shows them: the newest page of
 * history, older pages on demand (`beforeSeq`), live messages, changes and
 * reactions, one's own sends (the client's `sent` event), and after a
 * reconnect (the SDK has resynced the seq stream) the newest page again for
 * what is not in the stream (reactions). Also the read state: how far the
 * peer read (1:1) and each own message's read count (groups).
 *
 * A message older than what is loaded (a search hit, a quote) loads the
 * page around it (`aroundSeq`); when that page does not reach what was
 * loaded, it replaces it and the chat is "away from the newest" (`newer`):
 * live messages wait (they are newer than the page) until scrolling down
 * pages on to the newest, or `toLatest` goes back there. */
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
  /** The newest page has come (the first time): a message can be looked for. */
  loaded: boolean;
  /** Newer messages remain to load: the chat shows an older page. */
  newer: boolean;
  /** Loads the page around `seq` unless it is shown; resolves when merged. */
  loadAround: (seq: number) => Promise<void>;
  /** Away from the newest: loads the next page after the newest shown. */
  loadNewer: () => Promise<void>;
  /** Back to the newest page (from away). */
  toLatest: () => void;
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
  // Which conversation's newest page has come: on the render that switches
  // conversations, the old one's (so `loaded` is false until the new page).
  const [loadedFor, setLoadedFor] = useState("");
  const [newer, setNewerState] = useState(false);
  const away = useRef(false); // read by the event handlers, set with `newer`
  const setNewer = (value: boolean) => { away.current = value; setNewerState(value); };
  const newestPage = useRef<(again: boolean) => Promise<void>>(async () => {});
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
    setLoadedFor("");
    setNewer(false);
    const read = (seq: number) => { if (markRead()) void client.markRead(conversationId, seq).catch(() => {}); };
    // Away from the newest, what is newer than the page shown waits for the paging down.
    const add = (ms: MessageView[]) => setLines((ls) => {
      const last = ls[ls.length - 1]?.seq ?? 0;
      return merge(ls, away.current ? ms.filter((m) => m.seq <= last) : ms);
    });
    const newest = () => client.history(conversationId, { limit: PAGE }).then((page) => {
      if (!live || away.current) return;
      add(page.messages);
      if (first) setMore(page.more); // later, the newest page again: older ones stay as they were
      first = false;
      setLoadedFor(conversationId);
      const last = page.messages[page.messages.length - 1];
      if (last) read(last.seq);
      if (group) void counts(page.messages);
    }, (e: unknown) => { if (live) setError(e); });
    const counts = (ms: MessageView[]) => readCountsOf(ms).then((found) => {
      if (live) setReadCounts((rc) => new Map([...rc, ...found]));
    });
    const mine = (cid: string) => cid === conversationId;
    const offs = [
      client.on("message", (m) => { if (mine(m.conversation_id) && !away.current) { add([m]); read(m.seq); } }),
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
    newestPage.current = (again) => { first = !again; return newest(); };
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

  async function loadAround(seq: number): Promise<void> {
    if (current.current.some((l) => l.seq === seq)) return;
    const page = await client.history(conversationId, { aroundSeq: seq, limit: PAGE }).catch((e: unknown) => {
      setError(e);
      return null;
    });
    if (!page) return;
    const oldest = current.current[0]?.seq ?? 0;
    const last = page.messages[page.messages.length - 1]?.seq ?? 0;
    if (page.newer && last < oldest - 1) { // a gap to what is shown: the page alone
      setNewer(true);
      setLines(() => page.messages);
    } else {
      setLines((ls) => merge(ls, page.messages));
    }
    setMore(page.more);
    void readCountsOf(page.messages).then((found) => setReadCounts((rc) => new Map([...found, ...rc])));
  }

  const paging = useRef<Promise<void> | null>(null);
  async function loadNewer(): Promise<void> {
    if (!away.current || paging.current) return paging.current ?? undefined;
    const last = current.current[current.current.length - 1]?.seq ?? 0;
    // Around the newest shown: the page holds the next ones, and says if more remain.
    paging.current = client.history(conversationId, { aroundSeq: last, limit: 2 * PAGE }).then((page) => {
      setLines((ls) => merge(ls, page.messages));
      if (!page.newer) {
        setNewer(false);
        void newestPage.current(true); // what came while the page was on its way
      }
    }, (e: unknown) => setError(e)).finally(() => { paging.current = null; });
    return paging.current;
  }

  function toLatest(): void {
    setNewer(false);
    setLines(() => []);
    void newestPage.current(false);
  }

  const oldestSeq = () => current.current[0]?.seq ?? 0;
  const loaded = loadedFor === conversationId;
  return { lines, more, loadingOlder, loadOlder, setLines, oldestSeq, loaded, newer, loadAround, loadNewer, toLatest,
           peerRead, readCounts, error, draft };
}
