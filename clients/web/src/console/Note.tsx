/** An outcome line: announced to screen readers, an error as an alert. */
import { t } from "./strings.js";

export function Note({ note }: { note: { ok: boolean; text: string } | null | string }) {
  if (!note) return null;
  if (typeof note === "string") return <p class="error" role="alert">{t.failed}{note}</p>;
  return note.ok ? <p class="ok" role="status">{note.text}</p>
    : <p class="error" role="alert">{t.failed}{note.text}</p>;
}
