/** A message to every user of the app, sent in the background; each
 * broadcast's progress (sent, skipped) while it runs. */
import { useEffect, useState } from "preact/hooks";
import type { AppApi } from "./api.js";
import { useAction, useLoad } from "./hooks.js";
import { Note } from "./Note.js";
import { t, when } from "./strings.js";

type Broadcast = { broadcast_id: number; from: string; state: string; sent: number; skipped: number; created_at: number };

export function Broadcasts({ api }: { api: AppApi }) {
  const list = useLoad(() => api<{ broadcasts: Broadcast[] }>("GET", "/v1/admin/broadcasts?limit=20"), []);
  const [from, setFrom] = useState("");
  const [text, setText] = useState("");
  const action = useAction();
  const running = list.data?.broadcasts.some((b) => b.state === "running");
  useEffect(() => {  // follow the progress while one runs
    if (!running) return;
    const timer = setTimeout(list.reload, 1500);
    return () => clearTimeout(timer);
  }, [list.data]);
  function submit(event: Event) {
    event.preventDefault();
    void action.run(async () => {
      await api("POST", "/v1/admin/broadcasts", {
        from, client_msg_id: `console-${Date.now()}`, elements: [{ type: "text", text }] });
      setText(""); list.reload();
    });
  }
  return (
    <section aria-labelledby="broadcasts-title">
      <h2 id="broadcasts-title">{t.broadcasts}</h2>
      <form class="card" onSubmit={submit}>
        <label for="broadcast-from">{t.broadcastFrom}</label>
        <input id="broadcast-from" required maxLength={32} value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        <label for="broadcast-text">{t.broadcastText}</label>
        <textarea id="broadcast-text" required rows={3} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <Note note={action.note} />
        <button type="submit" disabled={action.busy}>{t.startBroadcast}</button>
      </form>
      <Note note={list.error} />
      {list.data?.broadcasts.length === 0 && <p class="muted">{t.noBroadcasts}</p>}
      <ul class="plain">
        {list.data?.broadcasts.map((b) => (
          <li key={b.broadcast_id}>
            <b>#{b.broadcast_id}</b> {b.from} · {when(b.created_at)} · <span class={`status ${b.state}`}>{b.state}</span>{" "}
            <progress max={Math.max(1, b.sent + b.skipped)} value={b.sent + b.skipped} aria-label={`#${b.broadcast_id}`} />{" "}
            {t.progress(b.sent, b.skipped)}
          </li>
        ))}
      </ul>
    </section>
  );
}
