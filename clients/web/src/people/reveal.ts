/** Brings a message of the open chat into view and marks it (a search hit),
 * through the chat's `data-seq` attributes, so the chat view needs no
 * prop for it. The chat renders its newest page first: this waits for the
 * message to be there, for a few seconds at most, then says it is not
 * (`onMissing`: older than the chat's page; scrolling up brings it). */
export function revealMessage(seq: number, onMissing: () => void, tries = 50): void {
  const item = document.querySelector<HTMLElement>(`.chat [data-seq="${seq}"]`);
  if (!item) {
    if (tries > 0) setTimeout(() => revealMessage(seq, onMissing, tries - 1), 100);
    else onMissing();
    return;
  }
  document.querySelectorAll(".chat .found").forEach((e) => e.classList.remove("found"));
  item.classList.add("found");
  item.tabIndex = -1;
  item.scrollIntoView({ block: "center" });
  item.focus({ preventScroll: true });
}
