import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../../api';
import { deviceApi, probe } from './http';
import { clock } from './time';
import './device.css';

/** A live token with less than this left is not used for a new picture. */
const TOKEN_MARGIN_MS = 30000;

const problemText = (e: unknown) => (e instanceof ApiError ? `${e.status}: ${e.detail || e.title}` : String(e));

interface Token {
  token: string;
  expires: number;
}

/** liveToken is the stream token of the channel's live URLs (hls_url's ?token=). */
async function liveToken(device: string, ch: number): Promise<Token> {
  const u = await api.live(device, ch);
  const token = new URL(u.hls_url, location.href).searchParams.get('token');
  if (!token) throw new Error('the live URLs carry no token');
  return { token, expires: Date.parse(u.expires_at) };
}

/**
 * Snapshot shows GET …/snapshot.jpg of the channel. An <img> cannot send
 * the Bearer key, and the key never goes into a URL; the gateway's CSP
 * (img-src 'self' data:) has no blob: for a fetched copy either. So the
 * picture is asked for with the channel's live token in ?token= (a
 * short-lived credential for this channel only), minted by GET …/live
 * and minted again when it is about to expire or was refused.
 */
export function Snapshot(props: { device: string; channel: number; width?: number; height?: number }) {
  const [src, setSrc] = useState<string | null>(null);
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const [taken, setTaken] = useState<number | null>(null);
  const tok = useRef<Token | null>(null);
  const retried = useRef(false);
  const alive = useRef(true);

  const load = async (freshToken: boolean) => {
    setBusy(true);
    try {
      const t = tok.current;
      if (freshToken || !t || t.expires - Date.now() < TOKEN_MARGIN_MS) tok.current = await liveToken(props.device, props.channel);
      if (!alive.current || !tok.current) return;
      setSrc(deviceApi.snapshotURL(props.device, props.channel, tok.current.token, Date.now()));
    } catch (e) {
      if (!alive.current) return;
      setErr(problemText(e));
      setBusy(false);
    }
  };

  useEffect(() => {
    alive.current = true;
    load(false);
    return () => {
      alive.current = false;
    };
  }, []);

  const loaded = () => {
    retried.current = false;
    setErr('');
    setBusy(false);
    setTaken(Date.now());
  };

  // The <img> does not say why it failed: ask once more with fetch (the
  // token is the credential, no key) to read the problem, and try a fresh
  // token once when it was the token that was refused.
  const failed = async () => {
    const url = src;
    if (!url) return;
    let why = 'the picture did not load';
    try {
      await probe(url);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403) && !retried.current) {
        retried.current = true;
        load(true);
        return;
      }
      why = problemText(e);
    }
    if (!alive.current) return;
    setErr(why);
    setBusy(false);
  };

  return (
    <figure class="snapshot">
      {src ? (
        <img
          data-testid="snapshot"
          src={src}
          alt={`snapshot of channel ${props.channel}`}
          width={props.width || undefined}
          height={props.height || undefined}
          onLoad={loaded}
          onError={failed}
        />
      ) : (
        <div class="snapshot-empty">{err ? 'no snapshot' : 'loading…'}</div>
      )}
      <figcaption>
        <button
          type="button"
          data-testid="snapshot-refresh"
          disabled={busy}
          onClick={() => {
            retried.current = false;
            load(false);
          }}
        >
          {busy ? 'Taking…' : 'Refresh snapshot'}
        </button>{' '}
        {taken !== null && !err && (
          <span class="hint" data-testid="snapshot-time">
            taken {clock(taken)}
          </span>
        )}
        {err && (
          <span class="error" data-testid="snapshot-error">
            {err}
          </span>
        )}
      </figcaption>
    </figure>
  );
}
