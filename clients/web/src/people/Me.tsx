/** "Me": the person's profile as others see it (display name, avatar URL),
 * their sign-ins (this one marked; sign out one, or every one), the
 * language, and signing out here (docs/home-accounts.md). */
import { useState } from "preact/hooks";
import type { Client, HomeSession, SignedIn } from "tidings-client";
import { home } from "../session.js";
import { language, languages, setLanguage, t, type Language } from "../strings.js";
import { ConfirmButton } from "./ConfirmButton.js";
import { action, useLoad } from "./useLoad.js";
import { when } from "./when.js";

const LANGUAGE_NAMES: Record<Language, string> = { en: "English", "zh-CN": "简体中文" };

export function Me({ client, me, onSignOut }: { client: Client; me: SignedIn; onSignOut: () => void }) {
  const { data, reload, error, setError } = useLoad(client, async () => {
    const [account, sessions] = await Promise.all([home.me(me), home.sessions(me)]);
    return { account, sessions: sessions.sessions };
  }, ["profile"], [me]);
  const act = action(setError, reload);
  const [saved, setSaved] = useState(false);

  return (
    <section class="people me" aria-labelledby="me-title">
      <header>
        <h1 id="me-title">{t.section.me}</h1>
        <button type="button" onClick={onSignOut}>{t.signOut}</button>
      </header>
      {error && <p class="error" role="alert">{error}</p>}
      {data && <Profile key={String(data.account.display_name) + String(data.account.avatar_url)}
        account={data.account} saved={saved}
        save={async (fields) => { setSaved(await act(() => home.updateMe(me, fields))); }} />}
      <h2>{t.sessions}</h2>
      <ul class="rows" aria-label={t.sessions}>
        {data?.sessions.map((s: HomeSession) => (
          <li key={s.session_id}>
            <span class="who">
              {t.signedInBy(s.method)} · {when(s.created_at)}
              {s.client_ip && ` · ${s.client_ip}`}
            </span>
            {s.current ? <span class="role">{t.thisDevice}</span> : (
              <span class="actions">
                <button type="button" class="quiet" aria-label={t.signOutSession(when(s.created_at))}
                  onClick={() => act(() => home.signOutSession(me, s.session_id))}>{t.signOut}</button>
              </span>)}
          </li>))}
      </ul>
      <ConfirmButton onConfirm={async () => {
        if (await act(() => home.signOutEverywhere(me))) onSignOut();
      }}>{t.signOutEverywhere}</ConfirmButton>
      <h2><label for="language">{t.language}</label></h2>
      <select id="language" value={language}
        onChange={(e) => setLanguage(e.currentTarget.value as Language)}>
        {(Object.keys(languages) as Language[]).map((l) => (
          <option key={l} value={l} lang={l}>{LANGUAGE_NAMES[l]}</option>))}
      </select>
    </section>
  );
}

function Profile({ account, saved, save }: {
  account: Record<string, unknown>; saved: boolean;
  save: (fields: { display_name: string; avatar_url: string }) => Promise<void>;
}) {
  const [name, setName] = useState(String(account.display_name ?? ""));
  const [avatar, setAvatar] = useState(String(account.avatar_url ?? ""));
  return (
    <form class="card profile" onSubmit={(e) => { e.preventDefault();
      void save({ display_name: name.trim(), avatar_url: avatar.trim() }); }}>
      <div class="row">
        {avatar && /^https:\/\//.test(avatar) && <img class="avatar" src={avatar} alt="" />}
        <p class="muted">{t.usernameIs(String(account.username ?? account.email ?? account.phone ?? ""))}</p>
      </div>
      <label for="display-name">{t.displayName}</label>
      <input id="display-name" maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="avatar-url">{t.avatarUrl}</label>
      <input id="avatar-url" type="url" value={avatar} onInput={(e) => setAvatar(e.currentTarget.value)} />
      <button type="submit">{t.save}</button>
      {saved && <p role="status">{t.saved}</p>}
    </form>
  );
}
