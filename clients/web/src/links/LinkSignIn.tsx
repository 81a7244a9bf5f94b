/** A link URL opened without a home session: why to sign in first (and
 * that a session kept in this browser ended), above the usual sign-in; the
 * same link carries on once signed in. */
import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";
import { l } from "./strings.js";
import "./links.css";

export function LinkSignIn({ ended, children }: { ended: boolean; children: ComponentChildren }) {
  useEffect(() => {
    const before = document.title;
    document.title = l.linkTitle;
    return () => { document.title = before; };
  }, []);
  return (
    <div class="link-sign-in">
      <p class="notice" role="status">{ended ? l.linkSessionEnded : l.linkSignIn}</p>
      {children}
    </div>
  );
}
