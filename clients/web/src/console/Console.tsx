/** The console's frame: who is signed in, the apps (an operator sees every
 * app and may create one, and its own sign-ins; an app key sees its own
 * app only), and the sections of the chosen app. */
import { useState } from "preact/hooks";
import { appApi, call, guarded, type AppView, type Credential } from "./api.js";
import { AppFields, AppIcon } from "./AppIcon.js";
import { Broadcasts } from "./Broadcasts.js";
import { Callbacks } from "./Callbacks.js";
import { Figures } from "./Figures.js";
import { useAction, useLoad } from "./hooks.js";
import { Note } from "./Note.js";
import { Overview } from "./Overview.js";
import { Push } from "./Push.js";
import { Sessions } from "./Sessions.js";
import { t } from "./strings.js";
import { Users } from "./Users.js";

const SECTIONS = ["overview", "callbacks", "push", "users", "figures", "broadcasts"] as const;
type Section = typeof SECTIONS[number];

export function Console({ credential, onSignOut }: { credential: Credential; onSignOut: () => void }) {
  const operator = credential.kind === "operator";
  const [chosen, setChosen] = useState<number | null>(operator ? null : credential.sdkappid);
  const apps = useLoad(async () => operator
    ? (await guarded<{ apps: AppView[] }>(credential, "GET", "/v1/operator/apps")).apps : [], []);
  const who = operator ? credential.name : t.appOnly(credential.sdkappid);
  return (
    <div class="console">
      <header class="console-top">
        <h1>{t.title}</h1>
        <span class="who">{t.signedInAs(who)}</span>
        <button type="button" class="secondary" onClick={onSignOut}>{t.signOut}</button>
      </header>
      <div class="console-body">
        {operator && (
          <nav class="apps" aria-label={t.apps}>
            <h2>{t.apps}</h2>
            <Note note={apps.error} />
            {apps.data?.length === 0 && <p class="muted">{t.noApps}</p>}
            <ul>
              {apps.data?.map((app) => (
                <li key={app.sdkappid}>
                  <button type="button" aria-current={chosen === app.sdkappid ? "page" : undefined}
                    onClick={() => setChosen(app.sdkappid)}>
                    <AppIcon app={app} />
                    <span class="app-name">{app.name}</span>
                    <span class="muted small">{app.sdkappid}</span>
                  </button>
                </li>
              ))}
            </ul>
            <NewApp credential={credential} onMade={(app) => { apps.reload(); setChosen(app.sdkappid); }} />
            <Sessions credential={credential} onSignedOut={onSignOut} />
          </nav>
        )}
        <main class="app-main">
          {chosen === null ? <p class="muted">{t.chooseApp}</p>
            : <AppScreens key={chosen} credential={credential} sdkappid={chosen} onChanged={apps.reload} />}
        </main>
      </div>
    </div>
  );
}

function NewApp({ credential, onMade }: { credential: Credential; onMade: (app: AppView) => void }) {
  const [name, setName] = useState("");
  const [icon, setIcon] = useState("");
  const action = useAction();
  function submit(event: Event) {
    event.preventDefault();
    void action.run(async () => {
      const made = await call<AppView>(credential, "POST", "/v1/operator/apps", { name, icon_url: icon });
      setName(""); setIcon("");
      onMade(made);
    });
  }
  return (
    <form class="new-app" onSubmit={submit} aria-labelledby="new-app-title">
      <h3 id="new-app-title">{t.newApp}</h3>
      <AppFields id="new-app" name={name} setName={setName} icon={icon} setIcon={setIcon} />
      <Note note={action.note} />
      <button type="submit" disabled={action.busy}>{t.create}</button>
    </form>
  );
}

function AppScreens({ credential, sdkappid, onChanged }: {
  credential: Credential; sdkappid: number; onChanged: () => void;
}) {
  const [section, setSection] = useState<Section>("overview");
  const api = appApi(credential, sdkappid);
  const label: Record<Section, string> = {
    overview: t.overview, callbacks: t.callbacks, push: t.push, users: t.users, figures: t.figures, broadcasts: t.broadcasts,
  };
  return (
    <>
      <nav class="sections" aria-label={t.sections}>
        {SECTIONS.map((s) => (
          <button type="button" key={s} aria-current={section === s ? "page" : undefined}
            onClick={() => setSection(s)}>{label[s]}</button>
        ))}
      </nav>
      {section === "overview" && <Overview api={api} onChanged={onChanged} />}
      {section === "callbacks" && <Callbacks api={api} />}
      {section === "push" && <Push api={api} />}
      {section === "users" && <Users api={api} />}
      {section === "figures" && <Figures api={api} />}
      {section === "broadcasts" && <Broadcasts api={api} />}
    </>
  );
}
