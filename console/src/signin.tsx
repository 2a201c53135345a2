/** Sign-in with an API token; the token is checked against the API before it is kept. */
import { useState } from 'preact/hooks';
import { api, ApiError, clearToken, setToken } from './api';
import { ErrorBanner } from './components';

export function SignIn({ notice, onSignedIn }: { notice?: string; onSignedIn: () => void }) {
  const [token, setValue] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const t = token.trim();
    if (!t) {
      setError(new Error('Enter an API token.'));
      return;
    }
    setBusy(true);
    setError(null);
    setToken(t);
    try {
      await api('GET', '/api/organizations/current');
      onSignedIn();
    } catch (e) {
      clearToken();
      setError(e instanceof ApiError && e.status === 401 ? new Error('This API token was not accepted (401). Check the token and try again.') : e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>Sign in to labelsync</h1>
      {notice && <p class="notice" role="status">{notice}</p>}
      <ErrorBanner error={error} />
      <form onSubmit={submit} noValidate>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" value={token} onInput={(e) => setValue((e.target as HTMLInputElement).value)} aria-describedby="token-help" />
        <p id="token-help" class="muted">
          <code>npm start</code> prints a token at its first start; in AWS, <code>npm run token -- create --org NAME</code>. The token is kept in this tab only.
        </p>
        <button type="submit" class="primary" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}
