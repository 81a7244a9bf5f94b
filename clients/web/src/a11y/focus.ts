/** Keyboard paths through the messenger (docs/messenger.md#accessibility):
 * a screen puts the focus where the person types next, Escape closes the
 * open chat, and closing it returns the focus to what opened it (its entry
 * in the list), so a keyboard user never starts over from the top. */
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import "./a11y.css";

// The element that had the focus last. On a phone the list hides as the
// chat opens, which takes the focus from the entry pressed before any effect
// runs: this still knows it.
let lastFocused: HTMLElement | null = null;
document.addEventListener("focusin", (event) => {
  if (event.target instanceof HTMLElement) lastFocused = event.target;
});

/** Focuses the element with this id once the screen shows (and again when
 * `again` changes: the sign-in form switching to registering). */
export function useFocusFirst(id: string, again?: unknown): void {
  useEffect(() => { document.getElementById(id)?.focus(); }, [id, again]);
}

/** While a chat is open: its message field has the focus (`fieldId`), and
 * Escape calls `close`; when it closes, the focus goes back to the element
 * that opened it, or to `fallbackId`. */
export function useChatFocus(open: string | null, close: () => void,
                             fieldId: string, fallbackId: string): void {
  const opener = useRef<HTMLElement | null>(null);
  const wasOpen = useRef(false);
  const closeRef = useRef(close);
  closeRef.current = close;

  // Before the next key press is handled: what the person types right after
  // Enter lands in the field, not on the list entry.
  useLayoutEffect(() => {
    if (open) {
      if (lastFocused && lastFocused.id !== fieldId) opener.current = lastFocused;
      document.getElementById(fieldId)?.focus();
      wasOpen.current = true;
      return;
    }
    if (!wasOpen.current) return;
    wasOpen.current = false;
    const back = opener.current?.isConnected ? opener.current : document.getElementById(fallbackId);
    opener.current = null;
    back?.focus();
  }, [open, fieldId, fallbackId]);

  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => {
      // An Escape that a part of the chat used (a menu, an edit) or that
      // closes an open dialog (an image shown large) does not close the chat.
      if (event.key === "Escape" && !event.defaultPrevented
          && !document.querySelector("dialog[open]")) closeRef.current();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [open]);
}

const MOVES: Record<string, (at: number, last: number) => number> = {
  ArrowDown: (at, last) => Math.min(at + 1, last),
  ArrowUp: (at) => Math.max(at - 1, 0),
  Home: () => 0,
  End: (_, last) => last,
};

/** Up and Down (Home, End) move the focus between the entries of the list
 * `selector` (each `li`'s button), so a long list is not one Tab per entry;
 * Tab still leaves it. */
export function useListArrows(selector: string): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const move = MOVES[event.key];
      const here = document.activeElement;
      const list = document.querySelector(selector);
      if (!move || !list || !(here instanceof HTMLElement) || !list.contains(here)) return;
      const entries = Array.from(list.querySelectorAll<HTMLElement>(":scope > li > button"));
      const at = entries.indexOf(here);
      if (at < 0) return;
      event.preventDefault();
      entries[move(at, entries.length - 1)]?.focus();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [selector]);
}
