/** The messenger's sections (Chats, Search, Contacts, Groups, Me): a rail on
 * the left of a wide screen, a tab bar at the bottom of a phone. Plain
 * buttons in a labelled nav, so Tab reaches each and the current one is
 * announced (aria-current); the arrow keys move between them too. */
import { t } from "../strings.js";
import "./people.css";

export const SECTIONS = ["chats", "search", "contacts", "groups", "me"] as const;
export type Section = typeof SECTIONS[number];

const ICONS: Record<Section, string> = { chats: "💬", search: "🔍", contacts: "👥", groups: "🏘", me: "🙂" };

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
          <span class="icon" aria-hidden="true">{ICONS[s]}</span>
          <span class="label">{t.section[s]}</span>
          {(badges[s] ?? 0) > 0 && <span class="badge" aria-label={t.pending(badges[s]!)}>{badges[s]}</span>}
        </button>
      ))}
    </nav>
  );
}
