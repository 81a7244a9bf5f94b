/** Today's figures of the app (GET /v1/admin/stats). */
import type { AppApi } from "./api.js";
import { useLoad } from "./hooks.js";
import { Note } from "./Note.js";
import { t } from "./strings.js";

type Stats = { day: string; registered_users: number; active_users_today: number; messages_today: number; connections_now: number };

export function Figures({ api }: { api: AppApi }) {
  const stats = useLoad(() => api<Stats>("GET", "/v1/admin/stats"), []);
  if (stats.error) return <Note note={stats.error} />;
  if (!stats.data) return <p role="status">{t.loading}</p>;
  const s = stats.data;
  const tiles: [string, number][] = [[t.registered, s.registered_users], [t.activeToday, s.active_users_today],
    [t.messagesToday, s.messages_today], [t.connectionsNow, s.connections_now]];
  return (
    <section aria-labelledby="figures-title">
      <div class="row spread">
        <h2 id="figures-title">{t.figures}</h2>
        <button type="button" class="secondary" onClick={stats.reload}>{t.refresh}</button>
      </div>
      <p class="muted">{t.day(s.day)}</p>
      <dl class="tiles">
        {tiles.map(([label, value]) => <div key={label}><dt>{label}</dt><dd>{value.toLocaleString()}</dd></div>)}
      </dl>
    </section>
  );
}
