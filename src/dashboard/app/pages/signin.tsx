// Sign-in with an operator token (analyst or admin). The token stays in this tab's sessionStorage
// and leaves with the tab; the API masks pii for analysts, and the page shows only what it answers.
import { useState } from "preact/hooks";
import { ApiError, checkToken, token } from "../api";

export function SignIn({ expired, onSignedIn }: { expired: boolean; onSignedIn: () => void }) {
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(expired ? "Gavel no longer takes the token this tab had. Sign in again." : null);

  async function submit(e: Event) {
    e.preventDefault();
    const candidate = value.trim();
    if (!candidate) return setProblem("Paste an operator token.");
    setBusy(true);
    setProblem(null);
    try {
      await checkToken(candidate);
      token.set(candidate);
      onSignedIn();
    } catch (error) {
      const err = error as ApiError;
      setProblem(
        err.status === 401
          ? "That token is not valid. Use an analyst or admin operator token (supplier API keys cannot sign in)."
          : `${err.title}${err.detail ? `: ${err.detail}` : ""}`,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="signin">
      <form onSubmit={submit} class="card" aria-labelledby="signin-title">
        <h1 id="signin-title">
          <span class="logo" aria-hidden="true" /> Gavel
        </h1>
        <p class="hint">Sign in with an operator token: an analyst token (read-only, personal data masked) or an admin token.</p>
        <label for="token">Operator token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          autoFocus
        />
        {problem && (
          <p class="form-error" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        <p class="hint small">
          An admin creates one with <code>POST /v1/tokens</code> (README “Tokens and roles”). The token is kept in this tab only.
        </p>
      </form>
    </div>
  );
}
