/** Message search (the server's `search` op, docs/search.md): newest
 * first, the matched words marked in each snippet; a result opens its
 * conversation at the message (the chat loads the page around it). */
import { useEffect, useState } from "preact/hooks";
import type { Client, SearchResult } from "tidings-client";
import { describe } from "../SignIn.js";
import { t } from "../strings.js";
import type { Names } from "./names.js";
import { when } from "./when.js";

/** The snippet with its highlights as <mark>: text nodes only, never HTML. */
function Snippet({ result }: { result: SearchResult }) {
  const parts = [];
  let at = 0;
  for (const [start, end] of result.highlights) {
    if (start > at) parts.push(result.snippet.slice(at, start));
    parts.push(<mark key={start}>{result.snippet.slice(start, end)}</mark>);
    at = end;
  }
  parts.push(result.snippet.slice(at));
  return <span class="snippet">{parts}</span>;
}

export function Search({ client, names, title, onOpen }: {
  client: Client; names: Names; title: (conversationId: string) => string;
  onOpen: (conversationId: string, seq: number) => void;
}) {
  const [q, setQ] = useState("");
  const [results, setResults] = useState<SearchResult[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (results) names.need(results.flatMap((r) => [r.message.sender, r.conversation_id.replace(/^c2c_/, "")]));
  }, [results]);

  async function run(more: boolean) {
    setError("");
    setBusy(true);
    try {
      const page = await client.search({ q: q.trim(), limit: 20, ...(more && cursor ? { cursor } : {}) });
      setResults((r) => (more && r ? [...r, ...page.results] : page.results));
      setCursor(page.more ? page.cursor : null);
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="people search" aria-labelledby="search-title">
      <header><h1 id="search-title">{t.section.search}</h1></header>
      <form class="card" role="search" onSubmit={(e) => { e.preventDefault(); void run(false); }}>
        <label for="search-q">{t.searchMessages}</label>
        <div class="row">
          <input id="search-q" type="search" required autocomplete="off" value={q}
            onInput={(e) => setQ(e.currentTarget.value)} />
          <button type="submit" disabled={busy}>{t.section.search}</button>
        </div>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {results && <p role="status" class="muted">
        {t.found(results.length, cursor !== null)}</p>}
      <ul class="rows results" aria-label={t.results}>
        {results?.map((r) => (
          <li key={`${r.conversation_id}:${r.message.seq}`}>
            <button type="button" class="plain hit" onClick={() => onOpen(r.conversation_id, r.message.seq)}>
              <span class="where">{title(r.conversation_id)} · {names.nameOf(r.message.sender)}</span>
              <Snippet result={r} />
              <time dateTime={new Date(r.message.time).toISOString()}>
                {when(r.message.time)}</time>
            </button>
          </li>))}
      </ul>
      {cursor && <button type="button" class="quiet" disabled={busy} onClick={() => run(true)}>{t.more}</button>}
    </section>
  );
}
