/** The signed-in home account, kept in localStorage so a reload keeps it.
 * The key is the link page's (src/tidings/api/link_page.py), so signing in
 * on either signs in on both. */
import { HomeAccounts, TidingsError, type SignedIn } from "tidings-client";

export const USERSIG_KEY = "tidings.home.usersig";
export const home = new HomeAccounts(location.origin);

export async function signedIn(me: SignedIn): Promise<SignedIn> {
  localStorage.setItem(USERSIG_KEY, me.usersig);
  return me;
}

/** The session kept from before, checked with the server (null when there is
 * none, or it ended: signed out elsewhere, expired). */
export async function restore(): Promise<SignedIn | null> {
  const usersig = localStorage.getItem(USERSIG_KEY);
  if (!usersig) return null;
  const partial: SignedIn = { sdkappid: 0, user_id: "", usersig, expires_at: 0, session_id: "", created: false };
  try {
    const [account, app] = await Promise.all([home.me(partial), home.app()]);
    return { ...partial, user_id: String(account.user_id), sdkappid: Number(app.sdkappid) };
  } catch (error) {
    if (error instanceof TidingsError) localStorage.removeItem(USERSIG_KEY);
    return null;
  }
}

export async function signOut(me: SignedIn): Promise<void> {
  localStorage.removeItem(USERSIG_KEY);
  await home.signOut(me).catch(() => {});
}
