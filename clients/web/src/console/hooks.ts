/** Loading and acting with a visible outcome: every screen of the console
 * shows what it waits for, what went wrong, and what was done. */
import { useCallback, useEffect, useState } from "preact/hooks";
import { describe } from "./api.js";

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState("");
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setError("");
    load().then((d) => { if (live) setData(d); }, (e) => { if (live) setError(describe(e)); });
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data, error, reload, setData };
}

/** Runs one action at a time; `note` is its outcome (done or the error). */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  async function run(work: () => Promise<string | void>): Promise<void> {
    setBusy(true);
    setNote(null);
    try {
      const text = await work();
      if (text) setNote({ ok: true, text });
    } catch (e) {
      setNote({ ok: false, text: describe(e) });
    } finally {
      setBusy(false);
    }
  }
  return { busy, note, run };
}
