/** Loads a screen's data, again whenever one of the given live events
 * arrives (a request answered on another device, a member added...), and
 * keeps the error of the last try for the screen's alert. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { Client, ClientEvents } from "tidings-client";
import { describe } from "../SignIn.js";

export function useLoad<T>(client: Client, load: () => Promise<T>, events: (keyof ClientEvents)[],
                           deps: unknown[]): { data: T | undefined; reload: () => void; error: string;
                                               setError: (e: string) => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState("");
  // Loads overlap (an action's reload, then an event's): only the latest
  // one started may show, or an older answer could undo a newer change.
  const latest = useRef(0);
  const reload = useCallback(() => {
    const n = ++latest.current;
    load().then((d) => { if (n === latest.current) setData(d); },
                (e) => { if (n === latest.current) setError(describe(e)); });
  }, deps);
  useEffect(() => {
    reload();
    const offs = events.map((e) => client.on(e, () => reload()));
    return () => offs.forEach((off) => off());
  }, [client, reload]);
  return { data, reload, error, setError };
}

/** Said on `window` after each action of a people screen: what this device
 * did itself comes back as no event (the server tells the other devices),
 * so the nav's badges count again on it (pending.ts). */
export const CHANGED = "tidings:people-changed";

/** Runs an action of a screen: its error in the screen's alert, then a reload. */
export function action(setError: (e: string) => void, reload: () => void) {
  return async (work: () => Promise<unknown>): Promise<boolean> => {
    setError("");
    try {
      await work();
      return true;
    } catch (e) {
      setError(describe(e));
      return false;
    } finally {
      reload();
      window.dispatchEvent(new Event(CHANGED));
    }
  };
}
