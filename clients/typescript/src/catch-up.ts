/** What a list kept current by live events needs around its requests
 * (the SDK's ConversationList, and the web messenger's list of linked
 * conversations): an answer is the list as the server read it, which may
 * be before an event that came first, so the live changes that come while
 * a request is on its way are kept, each with its conversation, and
 * applied again on top of its answer (each list's handlers apply a change
 * only if newer than what they hold). And the conversations a list asks
 * for by id (one it does not hold got a message): each once at a time,
 * those of one turn of the event loop in one request of at most `most`
 * ids, their changes kept from the moment they are asked. */

/** A live change kept while a request is on its way, with its conversation. */
export type Again = { id: string; again: () => void };

// Conversations asked for by id in one request, and the changes since.
type Ask = { ids: Set<string>; meanwhile: Again[] };

export class CatchUp<Answer> {
  /** True while kept changes are applied again: they are not kept once
   * more, and the list publishes once, at the end. */
  quiet = false;
  // Per request on its way: the changes since it was asked.
  private readonly loading = new Set<Again[]>();
  // The ids to ask for in this turn of the event loop, and those asked
  // for and not answered yet.
  private wanted: Ask | null = null;
  private readonly asking = new Set<string>();

  /** `askFor` sends one request by id; `merge` takes its answer in and
   * says which of the ids it answered (their changes are applied again);
   * `publish` shows the list. */
  constructor(
    private readonly askFor: (ids: string[]) => Promise<Answer>,
    private readonly merge: (answer: Answer, ids: ReadonlySet<string>) => ReadonlySet<string>,
    private readonly publish: () => void,
    private readonly most = 100,
  ) {}

  /** Whether a change coming now is kept (a request is on its way, and
   * the change is not one applied again). */
  get keeping(): boolean {
    return this.loading.size > 0 && !this.quiet;
  }

  /** Keeps a change for every request on its way. */
  keep(id: string, again: () => void): void {
    if (!this.quiet) for (const changes of this.loading) changes.push({ id, again });
  }

  /** Runs a whole list's request: `take` puts its answer in place, then
   * every change kept meanwhile is applied again (the caller publishes). */
  async load<T>(request: () => Promise<T>, take: (answer: T) => void): Promise<void> {
    const meanwhile: Again[] = [];
    this.loading.add(meanwhile);
    let answer: T;
    try {
      answer = await request();
    } finally {
      this.loading.delete(meanwhile);
    }
    take(answer);
    this.replay(meanwhile, null);
  }

  /** Asks the server for a conversation (see the module's comment). */
  ask(id: string): void {
    if (this.asking.has(id)) return;
    this.asking.add(id);
    let batch = this.wanted;
    if (batch === null || batch.ids.size >= this.most) {
      const made: Ask = { ids: new Set(), meanwhile: [] };
      this.wanted = batch = made;
      this.loading.add(made.meanwhile);
      queueMicrotask(() => {
        if (this.wanted === made) this.wanted = null;
        void this.fetch(made);
      });
    }
    batch.ids.add(id);
  }

  /** The answer to `ask`, merged, then the changes of the conversations
   * it answered applied again on top. A failed ask changes nothing (a
   * reconnect loads the list again). */
  private async fetch(batch: Ask): Promise<void> {
    const ids = [...batch.ids];
    let answer: Answer;
    try {
      answer = await this.askFor(ids);
    } catch {
      return;
    } finally {
      this.loading.delete(batch.meanwhile);
      for (const id of ids) this.asking.delete(id);
    }
    const answered = this.merge(answer, batch.ids);
    if (answered.size === 0) return;
    this.replay(batch.meanwhile, answered);
    this.publish();
  }

  private replay(meanwhile: Again[], only: ReadonlySet<string> | null): void {
    this.quiet = true;
    try {
      for (const { id, again } of meanwhile) if (only === null || only.has(id)) again();
    } finally {
      this.quiet = false;
    }
  }
}
