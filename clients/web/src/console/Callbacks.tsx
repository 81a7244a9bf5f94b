/** The app's callbacks (docs/callbacks.md): the URL and its settings, which
 * events go out, a test event sent now, and the recent deliveries with
 * their status, attempts and last error. */
import { useState } from "preact/hooks";
import { ConsoleError, type AppApi } from "./api.js";
import { useAction, useLoad } from "./hooks.js";
import { Note } from "./Note.js";
import { t, when } from "./strings.js";

type Settings = {
  url: string; token: string; format: "native" | "tencent"; events: Record<string, boolean>;
  timeout_ms: number; failure_policy: "allow" | "block";
};
type Delivery = {
  id: number; event: string; status: string; attempts: number; last_error: string;
  created_at: number; delivered_at: number | null;
};
const STATUSES = ["pending", "delivered", "failed", "skipped"];

export function Callbacks({ api }: { api: AppApi }) {
  const settings = useLoad(async () => {
    try {
      return await api<Settings>("GET", "/v1/admin/callbacks");
    } catch (e) {
      if (e instanceof ConsoleError && e.code === 10010) return null;  // none yet
      throw e;
    }
  }, []);
  const [status, setStatus] = useState("");
  const deliveries = useLoad(() => api<{ deliveries: Delivery[] }>("GET",
    `/v1/admin/callbacks/deliveries?limit=50${status ? `&status=${status}` : ""}`), [status]);
  const test = useAction();
  if (settings.error) return <Note note={settings.error} />;
  if (settings.data === undefined) return <p role="status">{t.loading}</p>;
  return (
    <section aria-labelledby="callbacks-title">
      <h2 id="callbacks-title">{t.callbacks}</h2>
      {settings.data === null && <p class="muted">{t.noCallbacks}</p>}
      <SettingsForm key={JSON.stringify(settings.data)} api={api} current={settings.data}
        onSaved={(s) => settings.setData(s)} />
      {settings.data && (
        <div class="card">
          <Note note={test.note} />
          <button type="button" disabled={test.busy} onClick={() => void test.run(async () => {
            const done = await api<{ ok: boolean; error: string; latency_ms: number }>("POST", "/v1/admin/callbacks/test");
            deliveries.reload();
            if (!done.ok) throw new Error(t.testFailed(done.error));
            return t.testOk(done.latency_ms);
          })}>{t.sendTest}</button>
        </div>
      )}
      <div class="card">
        <div class="row spread">
          <h3 id="deliveries-title">{t.deliveries}</h3>
          <div class="row">
            <label for="delivery-status" class="inline">{t.status}</label>
            <select id="delivery-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="">{t.anyStatus}</option>
              {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
            </select>
            <button type="button" class="secondary" onClick={deliveries.reload}>{t.refresh}</button>
          </div>
        </div>
        <Note note={deliveries.error} />
        {deliveries.data?.deliveries.length === 0 ? <p class="muted">{t.noDeliveries}</p> : (
          <table aria-labelledby="deliveries-title">
            <thead><tr><th>{t.time}</th><th>{t.event}</th><th>{t.status}</th><th>{t.attempts}</th><th>{t.lastError}</th></tr></thead>
            <tbody>
              {deliveries.data?.deliveries.map((d) => (
                <tr key={d.id}>
                  <td>{when(d.created_at)}</td><td>{d.event}</td>
                  <td><span class={`status ${d.status}`}>{d.status}</span></td>
                  <td>{d.attempts}</td><td>{d.last_error}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}

function SettingsForm({ api, current, onSaved }: {
  api: AppApi; current: Settings | null; onSaved: (s: Settings | null) => void;
}) {
  const [url, setUrl] = useState(current?.url ?? "");
  const [token, setToken] = useState("");
  const [format, setFormat] = useState(current?.format ?? "native");
  const [timeout, setTimeoutMs] = useState(String(current?.timeout_ms ?? 2000));
  const [policy, setPolicy] = useState(current?.failure_policy ?? "allow");
  const [events, setEvents] = useState<Record<string, boolean>>(current?.events ?? {});
  const action = useAction();
  function submit(event: Event) {
    event.preventDefault();
    void action.run(async () => {
      const body: Record<string, unknown> = { url, format, timeout_ms: Number(timeout), failure_policy: policy };
      if (token) body.token = token;
      if (current) body.events = events;
      onSaved(await api<Settings>("PUT", "/v1/admin/callbacks", body));
      return t.saved;
    });
  }
  return (
    <form class="card" onSubmit={submit}>
      <label for="callback-url">{t.callbackUrl}</label>
      <input id="callback-url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
      <label for="callback-token">{t.callbackToken}</label>
      <input id="callback-token" autocomplete="off" value={token} placeholder={current ? "••••••••" : ""}
        onInput={(e) => setToken(e.currentTarget.value)} />
      <div class="row">
        <div>
          <label for="callback-format">{t.format}</label>
          <select id="callback-format" value={format}
            onChange={(e) => setFormat(e.currentTarget.value as Settings["format"])}>
            <option value="native">native</option><option value="tencent">tencent</option>
          </select>
        </div>
        <div>
          <label for="callback-timeout">{t.timeoutMs}</label>
          <input id="callback-timeout" type="number" min={100} max={10000} value={timeout}
            onInput={(e) => setTimeoutMs(e.currentTarget.value)} />
        </div>
        <div>
          <label for="callback-policy">{t.failurePolicy}</label>
          <select id="callback-policy" value={policy}
            onChange={(e) => setPolicy(e.currentTarget.value as Settings["failure_policy"])}>
            <option value="allow">{t.allow}</option><option value="block">{t.block}</option>
          </select>
        </div>
      </div>
      {current && (
        <fieldset class="events">
          <legend>{t.events}</legend>
          {Object.keys(events).sort().map((name) => (
            <label class="choice" key={name}>
              <input type="checkbox" checked={events[name]}
                onChange={(e) => setEvents({ ...events, [name]: e.currentTarget.checked })} />
              {name}
            </label>
          ))}
        </fieldset>
      )}
      <Note note={action.note} />
      <div class="row">
        <button type="submit" disabled={action.busy}>{t.save}</button>
        {current && (
          <button type="button" class="danger" disabled={action.busy} onClick={() => void action.run(async () => {
            await api("DELETE", "/v1/admin/callbacks");
            onSaved(null);
          })}>{t.turnOff}</button>
        )}
      </div>
    </form>
  );
}
