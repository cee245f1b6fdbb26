import { useState } from 'preact/hooks';
import { api, ApiError, type Candidate } from '../../api';
import { FieldError, type Errors } from '../../forms';
import './devices.css';

/** AddPrefill is a discovered camera for the add form; n tells two picks of one camera apart. */
export interface AddPrefill {
  onvif: string;
  name: string;
  n: number;
}

/** parseTargets reads "host:port, host:port" (empty: multicast), or says what is wrong. */
function parseTargets(s: string): string[] | string {
  const out: string[] = [];
  for (const part of s.split(',')) {
    const t = part.trim();
    if (!t) continue;
    if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):\d{1,5}$/.test(t)) return `"${t}" is not host:port`;
    out.push(t);
  }
  return out;
}

const trimSlash = (s: string) => s.replace(/\/+$/, '');

/** nameOf is the name a discovered camera gets in the add form. */
function nameOf(c: Candidate): string {
  if (c.name) return c.name;
  if (c.model) return c.model;
  try {
    return new URL(c.address).hostname;
  } catch {
    return c.address;
  }
}

/**
 * Discover finds ONVIF cameras with a WS-Discovery probe (POST
 * /v1/discovery): multicast on the gateway's network, or unicast to the
 * host:port targets given. "Add" puts a candidate into the add form;
 * cameras some device already has (or added from here since) show "added".
 */
export function Discover(props: { added: string[]; onAdd: (p: Omit<AddPrefill, 'n'>) => void }) {
  const [targets, setTargets] = useState('');
  const [items, setItems] = useState<Candidate[] | null>(null);
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);

  const run = async (e: Event) => {
    e.preventDefault();
    const t = parseTargets(targets);
    if (typeof t === 'string') {
      setErrors({ targets: t });
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      const r = await api.discover(t);
      setItems(r.items);
    } catch (ex) {
      // A refused target is "targets[2]": shown at the input.
      if (ex instanceof ApiError) setErrors({ [ex.field.startsWith('targets') ? 'targets' : 'form']: ex.detail || ex.title || `HTTP ${ex.status}` });
      else setErrors({ form: String(ex) });
    } finally {
      setBusy(false);
    }
  };

  const added = new Set(props.added.map(trimSlash));

  return (
    <form class="discover" data-testid="discover" onSubmit={run}>
      <h2>Discover cameras</h2>
      <div class={errors.targets ? 'field invalid' : 'field'}>
        <label for="discover-targets">Targets (optional)</label>
        <input
          id="discover-targets"
          data-testid="discover-targets"
          name="targets"
          placeholder="host:port, host:port — empty: multicast"
          value={targets}
          autocomplete="off"
          onInput={(e) => setTargets((e.target as HTMLInputElement).value)}
          aria-invalid={errors.targets ? 'true' : undefined}
        />
        <FieldError errors={errors} field="targets" />
      </div>
      <div class="discover-actions">
        <button type="submit" data-testid="discover-run" disabled={busy}>
          {busy ? 'Searching…' : 'Discover'}
        </button>
        <FieldError errors={errors} field="form" />
        <span class="hint">a WS-Discovery probe from the gateway, answers for about 2 s</span>
      </div>
      {items !== null &&
        (items.length === 0 ? (
          <p class="empty" data-testid="discover-empty">
            No camera answered.
          </p>
        ) : (
          <ul class="candidates">
            {items.map((c) => {
              const isAdded = c.already_added || added.has(trimSlash(c.address));
              return (
                <li key={c.address} data-testid="discover-item" data-address={c.address} data-added={isAdded ? 'true' : 'false'}>
                  <span class="cand-what">
                    <strong>{[c.manufacturer, c.model].filter(Boolean).join(' ') || 'unknown camera'}</strong>
                    {c.name && <span class="cand-name"> “{c.name}”</span>}
                    {c.hardware && c.hardware !== c.model && <span class="hint"> · {c.hardware}</span>}
                  </span>
                  <code class="cand-address">{c.address}</code>
                  {isAdded ? (
                    <span class="cand-added" data-testid="discover-added">
                      added
                    </span>
                  ) : (
                    <button type="button" data-testid="discover-add" onClick={() => props.onAdd({ onvif: c.address, name: nameOf(c) })}>
                      Add
                    </button>
                  )}
                </li>
              );
            })}
          </ul>
        ))}
    </form>
  );
}
