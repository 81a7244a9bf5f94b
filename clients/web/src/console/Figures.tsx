/** The app's figures: today's (GET /v1/admin/stats) and over time (GET
 * /v1/admin/app/series), drawn as small bar charts in SVG (attributes, no
 * inline style: the page's CSP allows none). */
import { useState } from "preact/hooks";
import type { AppApi } from "./api.js";
import { useLoad } from "./hooks.js";
import { Note } from "./Note.js";
import { t, when } from "./strings.js";

type Stats = { day: string; registered_users: number; active_users_today: number; messages_today: number; connections_now: number };
type Point = { at: number; connections: number; active_users: number; messages: number; callbacks_delivered: number; callbacks_failed: number; callback_latency_ms: number | null };
type Series = { since: number; step_ms: number; points: Point[] };

const WINDOWS = { hour: [60, 1], day: [1440, 60], week: [10080, 1440] } as const;
type Window = keyof typeof WINDOWS;

export function Figures({ api }: { api: AppApi }) {
  const stats = useLoad(() => api<Stats>("GET", "/v1/admin/stats"), []);
  const [span, setSpan] = useState<Window>("day");
  const [minutes, step] = WINDOWS[span];
  const series = useLoad(() => api<Series>("GET", `/v1/admin/app/series?minutes=${minutes}&step=${step}`), [span]);
  const s = stats.data;
  const tiles: [string, number][] = s ? [[t.registered, s.registered_users], [t.activeToday, s.active_users_today],
    [t.messagesToday, s.messages_today], [t.connectionsNow, s.connections_now]] : [];
  const windows: Record<Window, string> = { hour: t.lastHour, day: t.lastDay, week: t.lastWeek };
  return (
    <section aria-labelledby="figures-title">
      <div class="row spread">
        <h2 id="figures-title">{t.figures}</h2>
        <button type="button" class="secondary" onClick={() => { stats.reload(); series.reload(); }}>{t.refresh}</button>
      </div>
      <Note note={stats.error} />
      {s ? <>
        <p class="muted">{t.day(s.day)}</p>
        <dl class="tiles">
          {tiles.map(([label, value]) => <div key={label}><dt>{label}</dt><dd>{value.toLocaleString()}</dd></div>)}
        </dl>
      </> : !stats.error && <p role="status">{t.loading}</p>}
      <div class="row spread">
        <h3>{t.overTime}</h3>
        <div>
          <label for="figures-window" class="inline">{t.window} </label>
          <select id="figures-window" value={span} onChange={(e) => setSpan(e.currentTarget.value as Window)}>
            {(Object.keys(WINDOWS) as Window[]).map((w) => <option key={w} value={w}>{windows[w]}</option>)}
          </select>
        </div>
      </div>
      <Note note={series.error} />
      {series.data && (
        <div class="charts">
          <Chart title={t.messages} points={series.data.points} value={(p) => p.messages} />
          <Chart title={t.connectionsPeak} points={series.data.points} value={(p) => p.connections} peak />
          <Chart title={t.activePeak} points={series.data.points} value={(p) => p.active_users} peak />
          <Chart title={t.callbacksDelivered} points={series.data.points} value={(p) => p.callbacks_delivered} />
          <Chart title={t.callbacksFailed} points={series.data.points} value={(p) => p.callbacks_failed} bad />
          <Chart title={t.callbackLatency} points={series.data.points} value={(p) => p.callback_latency_ms ?? 0} peak />
        </div>
      )}
    </section>
  );
}

function Chart({ title, points, value, bad, peak }: {
  title: string; points: Point[]; value: (p: Point) => number; bad?: boolean; peak?: boolean;
}) {
  const values = points.map(value);
  const top = Math.max(1, ...values);
  const sum = peak ? Math.max(0, ...values) : values.reduce((a, b) => a + b, 0);
  const summary = peak ? t.peak(sum.toFixed(0)) : t.total(sum.toLocaleString());
  const width = 300, height = 60, bar = width / Math.max(1, values.length);
  return (
    <figure class="chart">
      <figcaption><span>{title}</span> <span class="muted small">{summary}</span></figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img"
        aria-label={`${title}: ${summary}`}>
        <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} class="axis" />
        {values.map((v, i) => v > 0 && (
          <rect key={i} x={i * bar + bar * 0.1} width={Math.max(bar * 0.8, 0.5)} y={height - (v / top) * height}
            height={(v / top) * height} class={bad ? "bar bad" : "bar"}>
            <title>{`${when(points[i].at)}: ${peak ? v.toFixed(1) : v}`}</title>
          </rect>
        ))}
      </svg>
    </figure>
  );
}
