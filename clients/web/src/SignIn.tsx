/** Sign in and register with a username and a password (docs/home-accounts.md). */
import { useState } from "preact/hooks";
import { TidingsError, type SignedIn } from "tidings-client";
import { useFocusFirst } from "./a11y/focus.js";
import { home, signedIn } from "./session.js";
import { t } from "./strings.js";

export function describe(error: unknown): string {
  return error instanceof TidingsError ? `${error.message} (${error.code})` : String(error);
}

export function SignIn({ onSignedIn }: { onSignedIn: (me: SignedIn) => void }) {
  const [registering, setRegistering] = useState(false);
  const [identifier, setIdentifier] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  useFocusFirst("identifier", registering);

  async function submit(event: Event) {
    event.preventDefault();
    setError("");
    if (!registering && /[@+]/.test(identifier)) { setError(t.codeLater); return; }
    setBusy(true);
    try {
      const me = registering ? await home.register(identifier, password)
        : await home.signInPassword(identifier, password);
      // Others see the display name: start it as the username.
      if (registering) await home.updateMe(me, { display_name: identifier });
      onSignedIn(await signedIn(me));
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="sign-in">
      <h1>{t.title}</h1>
      <form onSubmit={submit}>
        <label for="identifier">{registering ? t.username : t.identifier}</label>
        <input id="identifier" autocomplete="username" required value={identifier}
          onInput={(e) => setIdentifier(e.currentTarget.value)} />
        <label for="password">{t.password}</label>
        <input id="password" type="password" required value={password}
          autocomplete={registering ? "new-password" : "current-password"}
          onInput={(e) => setPassword(e.currentTarget.value)} />
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{registering ? t.register : t.signIn}</button>
      </form>
      <button class="link" type="button" onClick={() => { setRegistering(!registering); setError(""); }}>
        {registering ? t.toSignIn : t.toRegister}
      </button>
    </main>
  );
}
