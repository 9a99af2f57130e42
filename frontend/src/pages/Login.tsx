import { useEffect, useRef, useState } from "react";
import { logIn } from "../auth/session";

/** The login form: what every page shows until someone is logged in. */
export function Login({ notice }: { notice: string }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setBusy(true);
    const answer = await logIn(username.trim(), password);
    setBusy(false);
    if (!answer.ok) {
      setError(answer.error.status === 401 ? "Wrong user name or password (or the account is disabled)." : answer.error.message);
      setPassword("");
    }
  }

  return (
    <section className="login" aria-labelledby="login-title">
      <h1 id="login-title">Log in to LAF</h1>
      {notice && <p role="status">{notice}</p>}
      <form onSubmit={submit}>
        <label>
          User name
          <input ref={first} name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </section>
  );
}
