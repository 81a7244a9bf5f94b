/** Signing in to the console: as an operator (name and password, made with
 * `tidings operator create`), or with one app's API key. */
import { useState } from "preact/hooks";
import { appOfKey, call, describe, type Credential } from "./api.js";
import { t } from "./strings.js";

type Kind = Credential["kind"];

export function SignIn({ onSignedIn }: { onSignedIn: (credential: Credential) => void }) {
  const [kind, setKind] = useState<Kind>("operator");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setError("");
    setBusy(true);
    try {
      if (kind === "operator") {
        const made = await call<{ name: string; token: string }>(null, "POST", "/v1/operator/sign-in",
          { name, password });
        onSignedIn({ kind: "operator", token: made.token, name: made.name });
      } else {
        const sdkappid = appOfKey(key);
        if (sdkappid === null) throw new Error(t.apiKeyHint);
        const credential: Credential = { kind: "apikey", key: key.trim(), sdkappid };
        await call(credential, "GET", "/v1/admin/app");  // the key works
        onSignedIn(credential);
      }
    } catch (e) {
      setError(e instanceof Error && !("code" in e) ? e.message : describe(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="console-sign-in">
      <h1>{t.title}</h1>
      <form onSubmit={submit}>
        <fieldset>
          <legend>{t.signInAs}</legend>
          {(["operator", "apikey"] as Kind[]).map((k) => (
            <label class="choice" key={k}>
              <input type="radio" name="kind" value={k} checked={kind === k}
                onChange={() => { setKind(k); setError(""); }} />
              {k === "operator" ? t.operator : t.appKey}
            </label>
          ))}
        </fieldset>
        {kind === "operator" ? <>
          <label for="operator-name">{t.operatorName}</label>
          <input id="operator-name" autocomplete="username" required value={name}
            onInput={(e) => setName(e.currentTarget.value)} />
          <label for="operator-password">{t.password}</label>
          <input id="operator-password" type="password" autocomplete="current-password" required
            value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </> : <>
          <label for="api-key">{t.apiKey}</label>
          <input id="api-key" type="password" autocomplete="off" required value={key}
            aria-describedby="api-key-hint" onInput={(e) => setKey(e.currentTarget.value)} />
          <p id="api-key-hint" class="hint">{t.apiKeyHint}</p>
        </>}
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{t.signIn}</button>
      </form>
    </main>
  );
}
