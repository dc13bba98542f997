import { useState } from 'preact/hooks';
import { signIn } from '../api';
import { ErrorMessage } from '../components/Message';

/** The sign-in form (shown in place of any page: after signing in, that page opens). */
export function SignIn({ message }: { message?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      await signIn(String(f.get('username') ?? ''), String(f.get('password') ?? ''));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">wirewatch</h1>
        {message && !error && (
          <p class="message notice" role="status">
            {message}
          </p>
        )}
        {error !== null && <ErrorMessage error={error} />}
        <label>
          User name
          <input name="username" autocomplete="username" required autofocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
