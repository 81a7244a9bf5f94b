import { t } from "./strings.js";

/** An app's icon and the fields of its name and icon.
 *
 * The icon, or its initial when it has none. Decorative: the app's
 * name is always next to it. Only https icons are taken (the CSP). */
export function AppIcon({ app }: { app: { icon_url: string; name: string } }) {
  return app.icon_url ? <img class="icon" src={app.icon_url} alt="" referrerpolicy="no-referrer" />
    : <span class="icon placeholder" aria-hidden="true">{app.name.slice(0, 1).toUpperCase()}</span>;
}

/** The name and icon URL fields of a form that makes or changes an app. */
export function AppFields({ id, name, setName, icon, setIcon }: {
  id: string; name: string; setName: (v: string) => void; icon: string; setIcon: (v: string) => void;
}) {
  return <>
    <label for={`${id}-name`}>{t.appName}</label>
    <input id={`${id}-name`} required maxLength={64} value={name} onInput={(e) => setName(e.currentTarget.value)} />
    <label for={`${id}-icon`}>{t.iconUrl}</label>
    <input id={`${id}-icon`} type="url" maxLength={512} value={icon} onInput={(e) => setIcon(e.currentTarget.value)} />
  </>;
}
