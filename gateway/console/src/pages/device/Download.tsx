import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, may, type Task } from '../../api';
import { deviceApi, probe } from './http';
import { ExportStatus } from './Export';
import { FieldError, type Errors } from '../../forms';
import { clock, fileStamp, localInput, parseLocalInput } from './time';
import './device.css';

/** Prefill is a range to put into the inputs; n tells two prefills of one range apart. */
export interface Prefill {
  from: number;
  to: number;
  n: number;
}

interface Link {
  href: string;
  name: string;
  expires: string;
  n: number;
}

/** fieldOf maps the playback endpoint's fields (start, end) to the inputs; the rest goes under the button. */
const fieldOf = (f: string) => (f === 'start' || f === 'end' ? f : 'range');
/** exportFieldOf maps a task submit's fields (from, to) to the inputs; the rest goes under the export button. */
const exportFieldOf = (f: string) => (f === 'from' ? 'start' : f === 'to' ? 'end' : 'export');

/**
 * Download saves a range of recordings as one MP4: it mints playback URLs
 * for the range, checks that the MP4 would be served (so that "nothing
 * recorded in that range" shows here, not as a failed download), then
 * follows an <a download> to the mp4_url. That URL holds a short-lived
 * playback token for this range only, never the API key. Operators may also
 * "Export clip": a clip task of the same range (the time burnt in when
 * asked), followed on the page until its MP4 can be downloaded.
 */
export function Download(props: { device: string; channel: number; prefill: Prefill | null }) {
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const [link, setLink] = useState<Link | null>(null);
  const anchor = useRef<HTMLAnchorElement>(null);
  const canExport = may('operator');
  const [stamped, setStamped] = useState(false);
  const [exporting, setExporting] = useState(false);
  const [exported, setExported] = useState<Task | null>(null);

  useEffect(() => {
    if (!props.prefill) return;
    setFrom(localInput(props.prefill.from));
    setTo(localInput(props.prefill.to));
    setErrors({});
  }, [props.prefill?.n]);

  // Each new link is followed once, right after it is rendered.
  useEffect(() => {
    if (link) anchor.current?.click();
  }, [link?.n]);

  /** range is the inputs' range, or null with their errors shown. */
  const range = (): [number, number] | null => {
    const a = parseLocalInput(from);
    const b = parseLocalInput(to);
    const local: Errors = {};
    if (a === null) local.start = 'give the start of the range';
    if (b === null) local.end = 'give the end of the range';
    if (a === null || b === null) {
      setErrors(local);
      return null;
    }
    return [a, b];
  };

  const exportClip = async () => {
    const r = range();
    if (!r) return;
    setExporting(true);
    setErrors({});
    try {
      const t = await api.submitTask({
        type: 'clip',
        device: props.device,
        channel: props.channel,
        from: new Date(r[0]).toISOString(),
        to: new Date(r[1]).toISOString(),
        params: stamped ? { timestamp: true } : undefined,
      });
      setExported(t);
    } catch (ex) {
      if (ex instanceof ApiError) setErrors({ [exportFieldOf(ex.field)]: ex.detail || ex.title || `HTTP ${ex.status}` });
      else setErrors({ export: String(ex) });
    } finally {
      setExporting(false);
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const r = range();
    if (!r) return;
    const [a, b] = r;
    setBusy(true);
    setErrors({});
    try {
      const u = await deviceApi.playback(props.device, props.channel, new Date(a), new Date(b));
      try {
        await probe(u.mp4_url);
      } catch (ex) {
        // Only the server's answer stops the download; a probe that could
        // not be made (a redirect to another node) leaves it to the browser.
        if (ex instanceof ApiError) throw ex;
      }
      const name = `${props.device}-ch${props.channel}-${fileStamp(a)}-${fileStamp(b)}.mp4`;
      setLink({ href: u.mp4_url, name, expires: u.expires_at, n: (link?.n ?? 0) + 1 });
    } catch (ex) {
      setLink(null);
      if (ex instanceof ApiError) setErrors({ [fieldOf(ex.field)]: ex.detail || ex.title || `HTTP ${ex.status}` });
      else setErrors({ range: String(ex) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="download" onSubmit={submit}>
      <div class={errors.start ? 'field invalid' : 'field'}>
        <label for="download-from">From</label>
        <input
          id="download-from"
          type="datetime-local"
          step="1"
          data-testid="download-from"
          value={from}
          onInput={(e) => setFrom((e.target as HTMLInputElement).value)}
        />
        <FieldError errors={errors} field="start" />
      </div>
      <div class={errors.end ? 'field invalid' : 'field'}>
        <label for="download-to">To</label>
        <input id="download-to" type="datetime-local" step="1" data-testid="download-to" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        <FieldError errors={errors} field="end" />
      </div>
      <div class="download-actions">
        <button type="submit" data-testid="download-mp4" disabled={busy}>
          {busy ? 'Preparing…' : 'Download MP4'}
        </button>
        <FieldError errors={errors} field="range" />
        {link && (
          <a ref={anchor} href={link.href} download={link.name} data-testid="download-link" class="hint">
            {link.name} (link valid until {clock(Date.parse(link.expires))})
          </a>
        )}
      </div>
      {canExport && (
        <div class="export-clip">
          <button type="button" data-testid="export-clip" disabled={exporting} onClick={exportClip} title="make an MP4 of the range on a worker (a clip task)">
            {exporting ? 'Submitting…' : 'Export clip'}
          </button>
          <label>
            <input type="checkbox" data-testid="export-timestamp" checked={stamped} onChange={(e) => setStamped((e.target as HTMLInputElement).checked)} /> timestamp
          </label>
          <FieldError errors={errors} field="export" />
        </div>
      )}
      {canExport && exported && <ExportStatus key={exported.id} submitted={exported} />}
    </form>
  );
}
