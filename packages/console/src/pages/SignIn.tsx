import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, api } from '../api.js';
import { Logo } from '../App.js';
import { errorText } from '../util.js';

export function SignIn({
  notice,
  onSignedIn,
}: {
  notice: string | null;
  onSignedIn: (token: string) => void;
}): ReactNode {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Paste an API token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.verify(t);
      onSignedIn(t);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401)
        setError('That token was not accepted: it is wrong, revoked or expired.');
      else if (err instanceof ApiError && err.status === 403)
        setError('That token may not read images. Use a reader, operator or admin token.');
      else setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="signin">
      <form className="signin-card" onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
        <div className="signin-brand">
          <Logo size={36} />
          <span>Palisade</span>
        </div>
        <h1 id="signin-title">Sign in</h1>
        <p className="muted">
          Use an API token. An admin creates tokens under Settings, or use the admin token the server printed at its
          first start (<code>PALISADE_ADMIN_TOKEN</code>).
        </p>
        {notice && !error && (
          <div className="banner info" role="status">
            {notice}
          </div>
        )}
        {error && (
          <div className="banner error" role="alert" data-testid="signin-error">
            {error}
          </div>
        )}
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          spellCheck={false}
          placeholder="pal_…"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          autoFocus
        />
        <button type="submit" className="btn primary wide" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="fine muted">
          The token is kept for this browser tab only (session storage) and sent to this server alone.
        </p>
      </form>
    </div>
  );
}
