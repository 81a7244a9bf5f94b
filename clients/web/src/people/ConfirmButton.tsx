/** A button for what cannot be undone in one click (leave, disband, hand
 * over a group, remove someone, sign out everywhere): the first press asks
 * "Sure?" in place, the second does it; leaving the button (blur) or a few
 * seconds without the second press puts it back. No window.confirm: it
 * blocks the page and reads as the browser's, not ours. */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { t } from "../strings.js";

export function ConfirmButton({ children, label, class: cls = "danger", onConfirm }: {
  children: ComponentChildren; label?: string; class?: string; onConfirm: () => void;
}) {
  const [asking, setAsking] = useState(false);
  useEffect(() => {
    if (!asking) return;
    const timer = setTimeout(() => setAsking(false), 6000);
    return () => clearTimeout(timer);
  }, [asking]);
  return (
    <button type="button" class={asking ? `${cls} asking` : cls}
      aria-label={label && (asking ? t.sure(label) : label)}
      onBlur={() => setAsking(false)}
      onClick={() => { if (asking) { setAsking(false); onConfirm(); } else setAsking(true); }}>
      {asking ? t.sureShort : children}
    </button>
  );
}
