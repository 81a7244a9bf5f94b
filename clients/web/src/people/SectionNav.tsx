/** The messenger's sections (Chats, Search, Contacts, Groups, Me): a rail on
 * the left of a wide screen, a tab bar at the bottom of a phone. Plain
 * buttons in a labelled nav, so Tab reaches each and the current one is
 * announced (aria-current); the arrow keys move between them too. */
import { t } from "../strings.js";
import "./people.css";

export const SECTIONS = ["chats", "search", "contacts", "groups", "me"] as const;
export type Section = typeof SECTIONS[number];

// Line icons as SVG paths (24x24, stroked in the text colour): emoji would
// depend on the device's fonts.
const ICONS: Record<Section, string> = {
  chats: "M4 5h16v11H9l-5 4z",
  search: "M10.5 4a6.5 6.5 0 1 0 0 13a6.5 6.5 0 1 0 0-13zM15.5 15.5L20 20",
  contacts: "M12 4a4 4 0 1 0 0 8a4 4 0 1 0 0-8zM4 20c0-4 4-6 8-6s8 2 8 6",
  groups: "M9 5a3.5 3.5 0 1 0 0 7a3.5 3.5 0 1 0 0-7zM2 20c0-3.5 3-5.5 7-5.5s7 2 7 5.5M16 5.5a3 3 0 0 1 0 6M18 14.8c2.4.6 4 2.3 4 5.2",
  me: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM8.5 14.5c1.8 2 5.2 2 7 0M9 9.5h.01M15 9.5h.01",
};

export function SectionNav({ current, onChange, badges = {} }: {
  current: Section; onChange: (section: Section) => void; badges?: Partial<Record<Section, number>>;
}) {
  function arrows(event: KeyboardEvent) {
    const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const buttons = Array.from((event.currentTarget as HTMLElement).querySelectorAll("button"));
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    buttons[(at + step + buttons.length) % buttons.length]?.focus();
  }
  return (
    <nav class="sections" aria-label={t.sections} onKeyDown={arrows}>
      {SECTIONS.map((s) => (
        <button key={s} type="button" class={s === current ? "current" : ""}
          aria-current={s === current ? "page" : undefined} onClick={() => onChange(s)}>
          <svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d={ICONS[s]} /></svg>
          <span class="label">{t.section[s]}</span>
          {(badges[s] ?? 0) > 0 && <span class="badge" aria-label={t.pending(badges[s]!)}>{badges[s]}</span>}
        </button>
      ))}
    </nav>
  );
}
