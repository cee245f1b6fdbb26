import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, request, type Role } from '../api';
import { ErrorBox } from '../components';
import { FieldError } from '../forms';
import './keys.css';

// GET/POST /v1/keys (openapi.json: Key, KeyList); key only in a creation's answer.
interface KeyView {
  id: string;
  name: string;
  role: Role;
  created_at: string;
  key?: string;
}

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

/**
 * Keys manages the API keys (admin): the list never holds a key itself,
 * only a creation's answer does, and the page shows it once.
 */
export function Keys(_props: { query: URLSearchParams }) {
  const [items, setItems] = useState<KeyView[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const [reload, setReload] = useState(0);
  const [confirm, setConfirm] = useState('');
  const [created, setCreated] = useState<KeyView | null>(null);
  // The key this console is signed in with: deleting it signs out at once.
  const [mine, setMine] = useState('');

  useEffect(() => {
    // GET /v1/whoami names the caller's key; without it there is just no marker.
    request<{ key_id: string }>('GET', '/v1/whoami')
      .then((w) => setMine(w.key_id ?? ''))
      .catch(() => {});
  }, []);

  useEffect(() => {
    let live = true;
    request<{ items: KeyView[] }>('GET', '/v1/keys')
      .then((r) => {
        if (!live) return;
        setItems(r.items);
        setErr(null);
      })
      .catch((e) => live && setErr(e))
      .finally(() => live && setLoaded(true));
    return () => {
      live = false;
    };
  }, [reload]);

  const remove = async (id: string) => {
    if (confirm !== id) {
      setConfirm(id);
      return;
    }
    setConfirm('');
    try {
      await request<void>('DELETE', `/v1/keys/${encodeURIComponent(id)}`);
      setErr(null);
    } catch (e) {
      // Already gone (another admin, another tab): the list catches up below.
      if (!(e instanceof ApiError && e.status === 404)) setErr(e);
    }
    setReload((r) => r + 1);
  };

  return (
    <main class="keys">
      <h1>API keys</h1>
      <ErrorBox error={err} />
      {created?.key && <CreatedKey k={created} onDone={() => setCreated(null)} />}
      <table class="keys-table">
        <thead>
          <tr>
            <th>ID</th>
            <th>Name</th>
            <th>Role</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {items.map((k) => (
            <tr key={k.id} data-testid="key-row" data-key-id={k.id}>
              <td>
                <code>{k.id}</code>
              </td>
              <td>
                {k.name}
                {k.id === mine && <span class="keys-mine"> (this console)</span>}
              </td>
              <td>
                <span class={'role role-' + k.role}>{k.role}</span>
              </td>
              <td>
                <time dateTime={k.created_at}>{new Date(k.created_at).toLocaleString()}</time>
              </td>
              <td>
                <button type="button" class="danger" data-testid="key-delete" onClick={() => remove(k.id)}>
                  {confirm === k.id ? (k.id === mine ? 'Confirm: signs you out' : 'Confirm delete') : 'Delete'}
                </button>
              </td>
            </tr>
          ))}
          {loaded && items.length === 0 && (
            <tr>
              <td colSpan={5} class="empty">
                No managed keys. (The admin key a node was started with is not one of them.)
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <p class="hint">A deleted key stops working on every node within about a second, with the stream tokens it minted.</p>
      <CreateKey
        onCreated={(k) => {
          setCreated(k);
          setReload((r) => r + 1);
        }}
      />
    </main>
  );
}

function CreateKey(props: { onCreated: (k: KeyView) => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const k = await request<KeyView>('POST', '/v1/keys', { name: name.trim(), role });
      setErrors({});
      setName('');
      props.onCreated(k);
    } catch (ex) {
      if (ex instanceof ApiError) {
        const f = ex.field === 'name' || ex.field === 'role' ? ex.field : 'form';
        setErrors({ [f]: ex.detail || ex.title });
      } else setErrors({ form: String(ex) });
    } finally {
      setBusy(false);
    }
  };

  const error = (k: string) => <FieldError errors={errors} field={k} />;

  return (
    <form class="keys-create" onSubmit={submit} data-testid="key-create">
      <h2>Create a key</h2>
      <div class={errors.name ? 'field invalid' : 'field'}>
        <label for="key-name">Name</label>
        <input
          id="key-name"
          name="name"
          autocomplete="off"
          placeholder="who or what uses it"
          value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
          aria-invalid={errors.name ? 'true' : undefined}
        />
        {error('name')}
      </div>
      <div class={errors.role ? 'field invalid' : 'field'}>
        <label for="key-role">Role</label>
        <select id="key-role" name="role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as Role)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        {error('role')}
      </div>
      <div class="keys-submit">
        <button type="submit" disabled={busy} data-testid="key-create-submit">
          {busy ? 'Creating…' : 'Create'}
        </button>
      </div>
      {errors.form && (
        <p class="field-error" data-testid="field-error" data-field="form">
          {errors.form}
        </p>
      )}
      <p class="hint">viewer: reads · operator: + device and plan commands · admin: everything, keys included.</p>
    </form>
  );
}

/** CreatedKey shows a new key once: the server keeps only its hash. */
function CreatedKey(props: { k: KeyView; onDone: () => void }) {
  const ref = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState('');

  const copy = async () => {
    const key = props.k.key ?? '';
    try {
      // The Clipboard API exists only in secure contexts (https, localhost).
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(key);
      setCopied('copied');
    } catch {
      // Select it instead so Ctrl+C / ⌘C copies it.
      ref.current?.select();
      setCopied('selected: press Ctrl+C (⌘C) to copy');
    }
  };

  return (
    <section class="keys-created" data-testid="key-created" role="status">
      <h2>
        Key “{props.k.name}” ({props.k.role}) created
      </h2>
      <div class="keys-secret">
        <input ref={ref} readOnly value={props.k.key} aria-label="the new API key" onFocus={(e) => (e.target as HTMLInputElement).select()} />
        <button type="button" onClick={copy}>
          Copy
        </button>
        {copied && <span class="ok">{copied}</span>}
      </div>
      <p>
        <strong>Copy it now: it will not be shown again.</strong> The server keeps only a hash of it; a lost key can only be deleted and
        replaced.
      </p>
      <button type="button" onClick={props.onDone}>
        Done
      </button>
    </section>
  );
}
