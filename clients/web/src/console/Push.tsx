/** The app's push settings (docs/push.md): previews, the offline_push
 * callback channel, the Web Push contact, and the APNs and FCM credentials,
 * which are sent once and never shown again (only whether they are set). */
import { useState } from "preact/hooks";
import type { AppApi } from "./api.js";
import { useAction, useLoad } from "./hooks.js";
import { Note } from "./Note.js";
import { t } from "./strings.js";

type PushSettings = {
  private_previews: boolean; use_callback: boolean; vapid_public_key: string; vapid_subject: string;
  apns: { configured: boolean; key_id: string; team_id: string; topic: string };
  fcm: { configured: boolean; project_id: string };
};

export function Push({ api }: { api: AppApi }) {
  const settings = useLoad(() => api<PushSettings>("GET", "/v1/admin/push"), []);
  if (settings.error) return <Note note={settings.error} />;
  if (!settings.data) return <p role="status">{t.loading}</p>;
  const put = async (change: Record<string, unknown>) => {
    settings.setData(await api<PushSettings>("PUT", "/v1/admin/push", change));
    return t.saved;
  };
  return (
    <section aria-labelledby="push-title">
      <h2 id="push-title">{t.push}</h2>
      <General current={settings.data} put={put} />
      <Apns current={settings.data} put={put} />
      <Fcm current={settings.data} put={put} />
    </section>
  );
}

type Put = (change: Record<string, unknown>) => Promise<string>;

function General({ current, put }: { current: PushSettings; put: Put }) {
  const [previews, setPreviews] = useState(current.private_previews);
  const [callback, setCallback] = useState(current.use_callback);
  const [subject, setSubject] = useState(current.vapid_subject);
  const action = useAction();
  return (
    <form class="card" onSubmit={(e) => { e.preventDefault(); void action.run(() => put({
      private_previews: previews, use_callback: callback,
      // Only a changed contact: an empty one is not a contact to set.
      ...(subject !== current.vapid_subject ? { vapid_subject: subject } : {}) })); }}>
      <label class="choice"><input type="checkbox" checked={previews}
        onChange={(e) => setPreviews(e.currentTarget.checked)} />{t.privatePreviews}</label>
      <label class="choice"><input type="checkbox" checked={callback}
        onChange={(e) => setCallback(e.currentTarget.checked)} />{t.useCallback}</label>
      <label for="vapid-subject">{t.vapidSubject}</label>
      <input id="vapid-subject" maxLength={256} value={subject} onInput={(e) => setSubject(e.currentTarget.value)} />
      {current.vapid_public_key && <p class="hint">{t.vapidKey} <code>{current.vapid_public_key}</code></p>}
      <Note note={action.note} />
      <button type="submit" disabled={action.busy}>{t.save}</button>
    </form>
  );
}

/** The text of a chosen file (a .p8 key, a service account JSON). */
async function fileText(input: HTMLInputElement): Promise<string> {
  const file = input.files?.[0];
  return file ? await file.text() : "";
}

function Apns({ current, put }: { current: PushSettings; put: Put }) {
  const [keyId, setKeyId] = useState(current.apns.key_id);
  const [teamId, setTeamId] = useState(current.apns.team_id);
  const [topic, setTopic] = useState(current.apns.topic);
  const action = useAction();
  function submit(event: Event) {
    event.preventDefault();
    const file = (event.currentTarget as HTMLFormElement).querySelector<HTMLInputElement>("#apns-key")!;
    void action.run(async () => put({ apns: { key_id: keyId, team_id: teamId, topic, key: await fileText(file) } }));
  }
  return (
    <form class="card" onSubmit={submit}>
      <h3>APNs <span class="muted small">{current.apns.configured ? t.configured : t.notConfigured}</span></h3>
      <div class="row">
        <div class="grow"><label for="apns-key-id">{t.apnsKeyId}</label>
          <input id="apns-key-id" required maxLength={32} value={keyId} onInput={(e) => setKeyId(e.currentTarget.value)} /></div>
        <div class="grow"><label for="apns-team-id">{t.apnsTeamId}</label>
          <input id="apns-team-id" required maxLength={32} value={teamId} onInput={(e) => setTeamId(e.currentTarget.value)} /></div>
        <div class="grow"><label for="apns-topic">{t.apnsTopic}</label>
          <input id="apns-topic" required maxLength={256} value={topic} onInput={(e) => setTopic(e.currentTarget.value)} /></div>
      </div>
      <label for="apns-key">{t.apnsKeyFile}</label>
      <input id="apns-key" type="file" accept=".p8,.pem" required />
      <Note note={action.note} />
      <div class="row">
        <button type="submit" disabled={action.busy}>{t.save}</button>
        {current.apns.configured && <button type="button" class="danger" disabled={action.busy}
          onClick={() => void action.run(() => put({ apns: null }))}>{t.removeCredentials}</button>}
      </div>
    </form>
  );
}

function Fcm({ current, put }: { current: PushSettings; put: Put }) {
  const action = useAction();
  function submit(event: Event) {
    event.preventDefault();
    const file = (event.currentTarget as HTMLFormElement).querySelector<HTMLInputElement>("#fcm-file")!;
    void action.run(async () => put({ fcm: JSON.parse(await fileText(file)) }));
  }
  return (
    <form class="card" onSubmit={submit}>
      <h3>FCM <span class="muted small">{current.fcm.configured ? `${t.configured} (${current.fcm.project_id})` : t.notConfigured}</span></h3>
      <label for="fcm-file">{t.fcmFile}</label>
      <input id="fcm-file" type="file" accept=".json,application/json" required />
      <Note note={action.note} />
      <div class="row">
        <button type="submit" disabled={action.busy}>{t.save}</button>
        {current.fcm.configured && <button type="button" class="danger" disabled={action.busy}
          onClick={() => void action.run(() => put({ fcm: null }))}>{t.removeCredentials}</button>}
      </div>
    </form>
  );
}
