/** An operator's own sign-ins (`GET /v1/operator/sessions`): where and when
 * each began, this browser's marked; any one signed out
 * (`DELETE /v1/operator/sessions/{id}`): a lost laptop's, or this one. */
import { guarded, type Credential } from "./api.js";
import { useAction, useLoad } from "./hooks.js";
import { Note } from "./Note.js";
import { t, when } from "./strings.js";

type Session = { id: string; client_ip: string; created_at: number; expires_at: number; current: boolean };

export function Sessions({ credential, onSignedOut }: { credential: Credential; onSignedOut: () => void }) {
  const list = useLoad(async () => (await guarded<{ sessions: Session[] }>(
    credential, "GET", "/v1/operator/sessions")).sessions, []);
  const action = useAction();
  function end(session: Session) {
    void action.run(async () => {
      await guarded(credential, "DELETE", `/v1/operator/sessions/${encodeURIComponent(session.id)}`);
      if (session.current) { onSignedOut(); return; }
      list.reload();
      return t.done;
    });
  }
  return (
    <section class="sessions" aria-labelledby="sessions-title">
      <h3 id="sessions-title">{t.sessions}</h3>
      <Note note={list.error} />
      <Note note={action.note} />
      <ul class="plain">
        {list.data?.map((s) => (
          <li key={s.id} class="row spread">
            <span>{s.current && <b>{t.thisSession} · </b>}
              <span class="muted small">{t.sessionFrom(s.client_ip, when(s.created_at))}</span></span>
            <button type="button" class="secondary" disabled={action.busy} aria-label={t.endSession(s.client_ip, when(s.created_at))}
              onClick={() => end(s)}>{t.end}</button>
          </li>
        ))}
      </ul>
    </section>
  );
}
