/** A small typed event emitter: `on` answers the function that unsubscribes
 * (what React's effects and Vue's watchers want). A listener that throws is
 * reported to `onListenerError` and does not stop the others. */
export type Listener<T> = (value: T) => void;

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();
  onListenerError: (error: unknown, event: PropertyKey) => void = (error) => {
    queueMicrotask(() => { throw error; });
  };

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (value) => { off(); listener(value); });
    return off;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** The next time `event` happens whose value passes `filter` (a promise). */
  next<K extends keyof Events>(event: K, filter: (value: Events[K]) => boolean = () => true
  ): Promise<Events[K]> {
    return new Promise((resolve) => {
      const off = this.on(event, (value) => {
        if (filter(value)) { off(); resolve(value); }
      });
    });
  }

  protected emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(value);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
  }
}
