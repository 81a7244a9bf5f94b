/** What a client has seen, per conversation: the bookkeeping behind exact
 * resync (the Python SDK's `tidings.sdk._state`, line for line).
 *
 * `known[conversation]` is the last *contiguous* seq the client holds: every
 * message up to it was handed to the application (or is one of its own
 * sends). That is what `sync` sends back after a reconnect. Acks of our own
 * sends may name a seq past a gap (a peer's message committed just before
 * ours and not yet delivered); those wait in `ahead` until the gap closes, so
 * the known seq never skips a message the application did not see. */
export type Verdict = "new" | "duplicate" | "gap";

export class SeqTracker {
  private readonly known: Map<string, number>;
  private readonly ahead = new Map<string, Set<number>>();

  /** `onChange`: called after each change of `known` (a client saving it
   * to a `KnownStore` listens). */
  constructor(known: Record<string, number> = {}, private readonly onChange: () => void = () => {}) {
    this.known = new Map(Object.entries(known));
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.known);
  }

  get(conversationId: string): number | undefined {
    return this.known.get(conversationId);
  }

  has(conversationId: string): boolean {
    return this.known.has(conversationId);
  }

  /** Start following a conversation from `seq` (held up to it). */
  setBase(conversationId: string, seq: number): void {
    this.known.set(conversationId, seq);
    this.absorb(conversationId);
    this.onChange();
  }

  /** Stop following a conversation (a group the user is no longer in). */
  forget(conversationId: string): void {
    this.known.delete(conversationId);
    this.ahead.delete(conversationId);
    this.onChange();
  }

  /** One of our sends was stored with `seq`: we hold that message. */
  own(conversationId: string, seq: number): void {
    if (seq <= (this.known.get(conversationId) ?? 0)) return;
    let ahead = this.ahead.get(conversationId);
    if (ahead === undefined) this.ahead.set(conversationId, (ahead = new Set()));
    ahead.add(seq);
    this.absorb(conversationId);
    this.onChange();
  }

  isOwn(conversationId: string, seq: number): boolean {
    return this.ahead.get(conversationId)?.has(seq) ?? false;
  }

  /** A message arrived: may it go to the application? `acceptGap` takes it
   * even past a gap (the server's sync answer is authoritative). */
  offer(conversationId: string, seq: number, acceptGap = false): Verdict {
    const have = this.known.get(conversationId) ?? 0;
    if (seq <= have || this.isOwn(conversationId, seq)) return "duplicate";
    if (seq !== have + 1 && !acceptGap) return "gap";
    this.known.set(conversationId, seq);
    this.absorb(conversationId);
    this.onChange();
    return "new";
  }

  private absorb(conversationId: string): void {
    const ahead = this.ahead.get(conversationId);
    if (ahead === undefined || ahead.size === 0) return;
    let have = this.known.get(conversationId) ?? 0;
    while (ahead.has(have + 1)) have += 1;
    this.known.set(conversationId, have);
    for (const seq of ahead) if (seq <= have) ahead.delete(seq);
    if (ahead.size === 0) this.ahead.delete(conversationId);
  }
}
