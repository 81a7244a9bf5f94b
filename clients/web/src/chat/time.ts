/** Times and days as a messenger shows them, in the messenger's language:
 * "14:05" on each message, and "Today", "Yesterday" or the date between days. */
import { language } from "../strings.js";
import { c } from "./strings.js";

const clock = new Intl.DateTimeFormat(language, { hour: "2-digit", minute: "2-digit" });
const date = new Intl.DateTimeFormat(language, { weekday: "short", year: "numeric", month: "long", day: "numeric" });
const full = new Intl.DateTimeFormat(language, { dateStyle: "full", timeStyle: "medium" });

export const timeOf = (ms: number): string => clock.format(ms);
export const fullTime = (ms: number): string => full.format(ms);

/** The local calendar day of a time, as a key that changes at midnight. */
export function dayKey(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(ms: number, now = Date.now()): string {
  if (dayKey(ms) === dayKey(now)) return c.today;
  if (dayKey(ms) === dayKey(now - 86_400_000)) return c.yesterday;
  return date.format(ms);
}

/** "1.2 MB": sizes of files, in the units people read. */
export function sizeOf(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
