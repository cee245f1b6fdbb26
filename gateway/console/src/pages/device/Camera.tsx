import { useState } from 'preact/hooks';
import { ApiError, type Device } from '../../api';
import { deviceApi } from './http';
import { Snapshot } from './Snapshot';
import { PTZPad } from './PTZ';
import './device.css';

/** described is what the camera said of itself, to tell whether reading it again changed anything. */
const described = (d: Device) => JSON.stringify([d.camera ?? null, d.sources ?? [], d.channels]);

const problemText = (e: unknown) => (e instanceof ApiError ? `${e.status}: ${e.detail || e.title}` : String(e));

/**
 * CameraPanel is what an ONVIF camera said about itself (manufacturer,
 * model, firmware, serial; the channel's profile and size), "Read camera
 * again" for operators (POST …/onvif/refresh: new sources, information or
 * channels become a device.onvif_refreshed event), the channel's snapshot
 * and, when the channel's source has PTZ, the PTZ pad.
 */
export function CameraPanel(props: { dev: Device; channel: number; canEdit: boolean; onDevice: (d: Device) => void }) {
  const { dev, channel } = props;
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState('');
  const [err, setErr] = useState<{ field: string; text: string } | null>(null);
  const cam = dev.camera;
  const src = dev.sources?.find((s) => s.channel === channel);

  const refresh = async () => {
    setBusy(true);
    setNote('');
    setErr(null);
    try {
      const d = await deviceApi.refreshOnvif(dev.id);
      setNote(described(d) === described(dev) ? 'read again: nothing changed' : 'read again: updated');
      props.onDevice(d);
    } catch (e) {
      setErr({ field: e instanceof ApiError && e.field ? e.field : 'form', text: problemText(e) });
    } finally {
      setBusy(false);
    }
  };

  const row = (label: string, value: string | undefined, testid: string) => (
    <>
      <dt>{label}</dt>
      <dd data-testid={testid}>{value || '—'}</dd>
    </>
  );

  return (
    <section class="panel camera" data-testid="camera">
      <div class="camera-info">
        <h2>Camera</h2>
        <dl class="props" data-testid="camera-info">
          {row('Manufacturer', cam?.manufacturer, 'camera-manufacturer')}
          {row('Model', cam?.model, 'camera-model')}
          {row('Firmware', cam?.firmware, 'camera-firmware')}
          {row('Serial', cam?.serial, 'camera-serial')}
          {cam?.hardware && row('Hardware', cam.hardware, 'camera-hardware')}
          {row('ONVIF', dev.onvif, 'camera-onvif')}
          {src && (
            <>
              <dt>Channel {channel}</dt>
              <dd data-testid="camera-source">
                {src.profile}
                {src.width > 0 && ` · ${src.width}×${src.height}`}
                {src.ptz ? ' · PTZ' : ''}
                {src.sub_profile ? ` · sub stream ${src.sub_profile}` : ''}
              </dd>
            </>
          )}
        </dl>
        {props.canEdit && dev.onvif && (
          <div class="panel-actions">
            <button type="button" data-testid="onvif-refresh" disabled={busy} onClick={refresh} title="read the camera's information, sources and channels again">
              {busy ? 'Reading…' : 'Read camera again'}
            </button>
            {note && (
              <span class="ok" data-testid="onvif-refresh-note">
                {note}
              </span>
            )}
            {err && (
              <span class="field-error" data-testid="field-error" data-field={err.field} role="alert">
                {err.text}
              </span>
            )}
          </div>
        )}
      </div>
      <Snapshot key={`${dev.id}:${channel}`} device={dev.id} channel={channel} width={src?.width} height={src?.height} />
      {src?.ptz && <PTZPad key={`${dev.id}:${channel}`} device={dev.id} channel={channel} canControl={props.canEdit} />}
    </section>
  );
}
