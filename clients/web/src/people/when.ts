/** A time (ms) as the person's language writes it, not the browser's. */
import { language } from "../strings.js";

export const when = (ms: number): string =>
  new Date(ms).toLocaleString(language, { dateStyle: "medium", timeStyle: "short" });
