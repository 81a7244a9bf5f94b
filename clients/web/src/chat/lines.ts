/** The chat's messages as plain data, without any rendering: merged by seq
 * (history pages, live events, a resync and one's own acks may bring the
 * same message more than once: it is shown once, in its latest state), with
 * reactions applied from the events. Pure functions over immutable arrays,
 * so Preact sees each change as a new value. */
import type { MessageView, ReactionSummary } from "tidings-client";

export type Line = MessageView;

/** `more` merged into `lines`, by seq, oldest first. A newer copy of a
 * message replaces the older one but keeps its reactions when it carries
 * none (a change event's target may not). */
export function merge(lines: readonly Line[], more: readonly Line[]): Line[] {
  if (more.length === 0) return lines as Line[];
  const bySeq = new Map(lines.map((l) => [l.seq, l]));
  for (const m of more) {
    const had = bySeq.get(m.seq);
    bySeq.set(m.seq, had && m.reactions === undefined && had.reactions ? { ...m, reactions: had.reactions } : m);
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** Adds or removes one person's reaction (an event, or one's own answer). */
export function react(lines: readonly Line[], seq: number, userId: string, emoji: string,
                      action: "add" | "remove"): Line[] {
  return lines.map((l) => l.seq === seq ? { ...l, reactions: reacted(l.reactions ?? [], userId, emoji, action) } : l);
}

function reacted(summary: readonly ReactionSummary[], userId: string, emoji: string,
                 action: "add" | "remove"): ReactionSummary[] {
  const found = summary.find((r) => r.emoji === emoji);
  if (action === "add") {
    if (found?.users.includes(userId)) return summary as ReactionSummary[];
    if (!found) return [...summary, { emoji, count: 1, users: [userId] }];
    return summary.map((r) => r === found ? { ...r, count: r.count + 1, users: [...r.users, userId] } : r);
  }
  if (!found?.users.includes(userId)) return summary as ReactionSummary[];
  return summary.flatMap((r) => r !== found ? [r] : r.count <= 1 ? [] :
    [{ ...r, count: r.count - 1, users: r.users.filter((u) => u !== userId) }]);
}

/** One's own recall or edit, answered: the message as the server now has
 * it (the ack's `target`), else `change` applied to the copy shown. */
export function changed(lines: readonly Line[], target: Line | null, seq: number, change: Partial<Line>): Line[] {
  if (target) return merge(lines, [target]);
  return lines.map((l) => l.seq === seq ? { ...l, ...change } : l);
}

/** The text of a message's text elements (what an edit starts from). */
export function textOf(m: Pick<Line, "elements">): string {
  return m.elements.map((e) => e.type === "text" ? e.text : "").join("");
}

/** Whether the message mentions `userId` (by id, or everyone). */
export function mentions(m: Pick<Line, "mentions" | "sender">, userId: string): boolean {
  return m.sender !== userId && (m.mentions ?? []).some((u) => u === userId || u === "@all");
}
