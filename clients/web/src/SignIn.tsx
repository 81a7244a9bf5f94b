/** Sign in and register (docs/home-accounts.md): a username and a password,
 * or, when the first field holds an e-mail address or a phone number, a
 * one-time code sent there (the first code sign-in makes the account). */
import { useState } from "preact/hooks";
import { TidingsError, type HomeChannel, type SignedIn } from "tidings-client";
import { useFocusFirst } from "./a11y/focus.js";
import { home, signedIn } from "./session.js";
import { t } from "./strings.js";

export function describe(error: unknown): string {
  return error instanceof TidingsError ? `${error.message} (${error.code})` : String(error);
}

/** An e-mail address or an E.164 phone number (spaces and dashes allowed
 * while typing) signs in by code; anything else is a username. */
export function codeChannel(identifier: string): { channel: HomeChannel; address: string } | null {
  const value = identifier.trim();
  if (value.includes("@")) return { channel: "email", address: value };
  const phone = value.replace(/[\s().-]/g, "");
  return /^\+\d{6,15}$/.test(phone) ? { channel: "phone", address: phone } : null;
}

export function SignIn({ onSignedIn }: { onSignedIn: (me: SignedIn) => void }) {
  const [registering, setRegistering] = useState(false);
  const [identifier, setIdentifier] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [codeSentTo, setCodeSentTo] = useState("");
  const [codeLife, setCodeLife] = useState(0);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const byCode = codeChannel(identifier);
  const waitingForCode = byCode !== null && codeSentTo === byCode.address;
  useFocusFirst("identifier", registering);

  async function run(work: () => Promise<void>) {
    setError("");
    setBusy(true);
    try {
      await work();
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  }

  function submit(event: Event) {
    event.preventDefault();
    void run(async () => {
      if (byCode && !waitingForCode) {
        const sent = await home.requestCode(byCode.channel, byCode.address);
        setCodeLife(Number(sent.expires_in));
        setCode("");
        setCodeSentTo(byCode.address);
      } else if (byCode) {
        onSignedIn(await signedIn(await home.signInCode(byCode.channel, byCode.address, code.trim())));
      } else {
        const me = registering ? await home.register(identifier, password)
          : await home.signInPassword(identifier, password);
        // Others see the display name: start it as the username.
        if (registering) await home.updateMe(me, { display_name: identifier });
        onSignedIn(await signedIn(me));
      }
    });
  }

  return (
    <main class="sign-in">
      <h1>{t.title}</h1>
      <form onSubmit={submit}>
        <label for="identifier">{registering ? t.username : t.identifier}</label>
        <input id="identifier" autocomplete="username" required value={identifier}
          onInput={(e) => setIdentifier(e.currentTarget.value)} />
        {!byCode && <>
          <label for="password">{t.password}</label>
          <input id="password" type="password" required value={password}
            autocomplete={registering ? "new-password" : "current-password"}
            onInput={(e) => setPassword(e.currentTarget.value)} />
        </>}
        {waitingForCode && <>
          <p role="status">{t.codeSent(byCode.address, codeLife)}</p>
          <label for="code">{t.code}</label>
          <input id="code" required inputMode="numeric" autocomplete="one-time-code" maxLength={16}
            value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        </>}
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>
          {byCode && !waitingForCode ? t.sendCode : registering && !byCode ? t.register : t.signIn}
        </button>
        {waitingForCode && <button class="link" type="button" disabled={busy}
          onClick={() => setCodeSentTo("")}>{t.sendCodeAgain}</button>}
      </form>
      <button class="link" type="button" onClick={() => { setRegistering(!registering); setError(""); }}>
        {registering ? t.toSignIn : t.toRegister}
      </button>
    </main>
  );
}
