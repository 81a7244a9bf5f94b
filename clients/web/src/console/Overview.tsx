/** The app itself: name and icon, its secret keys (rotation without
 * downtime: add, then retire the old) and its admin API keys. */
import { useState } from "preact/hooks";
import type { AppApi, AppView } from "./api.js";
import { AppFields, AppIcon } from "./AppIcon.js";
import { useAction, useLoad } from "./hooks.js";
import { Note } from "./Note.js";
import { t, when } from "./strings.js";

type ApiKey = { id: number; name: string; prefix: string; created_at: number; revoked_at: number | null };

export function Overview({ api, onChanged }: { api: AppApi; onChanged: () => void }) {
  const app = useLoad(() => api<AppView>("GET", "/v1/admin/app"), []);
  if (app.error) return <Note note={app.error} />;
  if (!app.data) return <p role="status">{t.loading}</p>;
  return (
    <section aria-labelledby="app-title">
      <h2 id="app-title" class="app-title"><AppIcon app={app.data} /> {app.data.name}</h2>
      <dl class="facts">
        <dt>{t.sdkappid}</dt><dd>{app.data.sdkappid}</dd>
        <dt>{t.admins}</dt><dd>{app.data.admins.join(", ")}</dd>
        <dt>{t.created}</dt><dd>{when(app.data.created_at)}</dd>
      </dl>
      <AppForm api={api} app={app.data} onSaved={(a) => { app.setData(a); onChanged(); }} />
      <SecretKeys api={api} app={app.data} onChanged={app.reload} />
      <ApiKeys api={api} />
    </section>
  );
}

function AppForm({ api, app, onSaved }: { api: AppApi; app: AppView; onSaved: (app: AppView) => void }) {
  const [name, setName] = useState(app.name);
  const [icon, setIcon] = useState(app.icon_url);
  const action = useAction();
  function submit(event: Event) {
    event.preventDefault();
    void action.run(async () => {
      onSaved(await api<AppView>("PATCH", "/v1/admin/app", { name, icon_url: icon }));
      return t.saved;
    });
  }
  return (
    <form class="card" onSubmit={submit}>
      <AppFields id="app" name={name} setName={setName} icon={icon} setIcon={setIcon} />
      <Note note={action.note} />
      <button type="submit" disabled={action.busy}>{t.save}</button>
    </form>
  );
}

function SecretKeys({ api, app, onChanged }: { api: AppApi; app: AppView; onChanged: () => void }) {
  const [shown, setShown] = useState<number | null>(null);
  const action = useAction();
  return (
    <div class="card">
      <h3>{t.secretKeys}</h3>
      <p class="hint">{t.secretKeysHint}</p>
      <ul class="keys">
        {app.keys?.map((k) => (
          <li key={k.id}>
            <code>{shown === k.id ? k.secret_key : `${k.secret_key.slice(0, 6)}…`}</code>
            <span class={k.retired_at ? "muted" : "live"}>{k.retired_at ? t.retired(when(k.retired_at)) : t.live}</span>
            <button type="button" class="secondary" aria-pressed={shown === k.id}
              onClick={() => setShown(shown === k.id ? null : k.id)}>{shown === k.id ? t.hide : t.show}</button>
          </li>
        ))}
      </ul>
      <Note note={action.note} />
      <div class="row">
        <button type="button" disabled={action.busy} onClick={() => void action.run(async () => {
          await api("POST", "/v1/admin/app/keys"); onChanged();
        })}>{t.addKey}</button>
        <button type="button" class="secondary" disabled={action.busy} onClick={() => void action.run(async () => {
          const done = await api<{ retired: number }>("POST", "/v1/admin/app/keys/retire-old");
          onChanged();
          return t.retiredCount(done.retired);
        })}>{t.retireOld}</button>
      </div>
    </div>
  );
}

function ApiKeys({ api }: { api: AppApi }) {
  const keys = useLoad(() => api<{ api_keys: ApiKey[] }>("GET", "/v1/admin/app/api-keys"), []);
  const [name, setName] = useState("");
  const [made, setMade] = useState("");
  const action = useAction();
  function submit(event: Event) {
    event.preventDefault();
    void action.run(async () => {
      const key = await api<{ key: string }>("POST", "/v1/admin/app/api-keys", { name });
      setMade(key.key); setName(""); keys.reload();
    });
  }
  return (
    <div class="card">
      <h3>{t.apiKeys}</h3>
      <Note note={keys.error} />
      {keys.data?.api_keys.length === 0 && <p class="muted">{t.noApiKeys}</p>}
      <ul class="keys">
        {keys.data?.api_keys.map((k) => (
          <li key={k.id}>
            <code>{k.prefix}…</code> <span>{k.name}</span>
            <span class="muted small">{when(k.created_at)}</span>
            {k.revoked_at ? <span class="muted">{t.revoked}</span> : (
              <button type="button" class="secondary" disabled={action.busy}
                aria-label={`${t.revoke} ${k.prefix}`}
                onClick={() => void action.run(async () => {
                  await api("DELETE", `/v1/admin/app/api-keys/${k.id}`); keys.reload();
                })}>{t.revoke}</button>
            )}
          </li>
        ))}
      </ul>
      {made && <p class="once" role="status">{t.newKeyOnce} <code>{made}</code></p>}
      <form class="row" onSubmit={submit}>
        <div class="grow">
          <label for="api-key-name">{t.apiKeyName}</label>
          <input id="api-key-name" maxLength={64} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={action.busy}>{t.createApiKey}</button>
      </form>
      <Note note={action.note} />
    </div>
  );
}
