/** Ends the messenger when its sign-in was ended elsewhere (signed out from
 * another device's session list, everywhere, or by a password change): the
 * server closes the socket and refuses the ticket at the next login, so
 * the client fails for good; then the sign-in screen shows at once rather
 * than a "Connecting…" that never ends. */
import { useEffect } from "preact/hooks";
import { TidingsError, type Client, type SignedIn } from "tidings-client";
import { home } from "../session.js";

export function useEndedElsewhere(client: Client, me: SignedIn, onEnded: () => void): void {
  useEffect(() => client.on("state", (state) => {
    if (state !== "failed") return;
    // Asked again over REST: only a revoked ticket ends it here (the
    // network never fails the client: the SDK retries).
    home.me(me).catch((e) => { if (e instanceof TidingsError && e.is("usersig_revoked")) onEnded(); });
  }), [client, me]);
}
