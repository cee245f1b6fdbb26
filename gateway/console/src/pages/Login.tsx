import { useState } from 'preact/hooks';
import { login, session, ApiError } from '../api';
import { navigate } from '../router';

export function Login(props: { next: string }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');

  const submit = async (e: Event) => {
    e.preventDefault();
    const k = key.trim();
    if (!k) {
      setErr('paste an API key');
      return;
    }
    setBusy(true);
    setErr('');
    try {
      const role = await login(k);
      session.set(k, role);
      navigate(props.next.startsWith('/') && !props.next.startsWith('//') ? props.next : '/devices', true);
    } catch (ex) {
      if (ex instanceof ApiError && ex.status === 401) setErr('this key is not valid');
      else if (ex instanceof ApiError && ex.status === 429) setErr('too many failed attempts: wait a minute');
      else setErr(ex instanceof ApiError ? `${ex.status}: ${ex.detail}` : String(ex));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <h1>Argus console</h1>
      <form onSubmit={submit}>
        <label for="login-key">API key</label>
        <input
          id="login-key"
          type="password"
          autocomplete="off"
          data-testid="login-key"
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        {err && (
          <p class="field-error" data-testid="field-error">
            {err}
          </p>
        )}
        <button type="submit" data-testid="login-submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p class="hint">The key is kept in this tab only (sessionStorage) and sent as a Bearer token.</p>
      </form>
    </main>
  );
}
