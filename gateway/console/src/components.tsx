import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type Hls from 'hls.js/light';
import { api, ApiError } from './api';
import { BASE, navigate } from './router';

/** Link is an <a> that navigates without a reload (a real href for new tabs). */
export function Link(props: { to: string; class?: string; children: ComponentChildren; testid?: string }) {
  return (
    <a
      href={BASE + props.to}
      class={props.class}
      data-testid={props.testid}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}

export function ErrorBox(props: { error: unknown }) {
  if (!props.error) return null;
  const e = props.error;
  const msg = e instanceof ApiError ? `${e.status} ${e.title}: ${e.detail}` : String(e);
  return (
    <p class="error" role="alert">
      {msg}
    </p>
  );
}

export function StatusBadge(props: { status: string }) {
  return (
    <span class={'status status-' + props.status} data-testid="device-status">
      {props.status}
    </span>
  );
}

/**
 * LiveVideo plays one channel's live stream: the API gives an hls_url that
 * carries a stream token (the API key never goes into a URL); hls.js plays it
 * through MSE (the <video> gets a blob: URL), or the browser natively.
 * On an expired token or a fatal error it asks for fresh URLs and retries,
 * backing off.
 */
export function LiveVideo(props: { device: string; channel: number; compact?: boolean }) {
  const ref = useRef<HTMLVideoElement>(null);
  const [err, setErr] = useState<string>('');
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const video = ref.current;
    if (!video) return;
    let hls: Hls | null = null;
    let stopped = false;
    let retry: number | undefined;
    const again = (why: string) => {
      if (stopped) return;
      setErr(why);
      // 3 s, 6 s, 12 s, … up to 30 s between tries: a dead camera is not hammered.
      retry = window.setTimeout(() => setAttempt((a) => a + 1), Math.min(30000, 3000 * 2 ** Math.min(attempt, 4)));
    };
    // hls.js (its light build: no subtitles, alternate audio or DRM) is a
    // chunk of its own, loaded with the first video.
    Promise.all([api.live(props.device, props.channel), import('hls.js/light')])
      .then(([u, mod]) => {
        if (stopped) return;
        setErr('');
        const Hls = mod.default;
        if (Hls.isSupported()) {
          hls = new Hls({ enableWorker: false, lowLatencyMode: false, liveSyncDurationCount: 2 });
          hls.on(Hls.Events.ERROR, (_ev, data) => {
            if (!data.fatal) return;
            hls?.destroy();
            hls = null;
            again(`stream error: ${data.details}`);
          });
          hls.loadSource(u.hls_url);
          hls.attachMedia(video);
        } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
          video.src = u.hls_url;
        } else {
          setErr('this browser cannot play HLS');
          return;
        }
        video.play().catch(() => {});
      })
      .catch((e) => again(e instanceof ApiError ? `${e.status}: ${e.detail}` : String(e)));
    return () => {
      stopped = true;
      if (retry !== undefined) clearTimeout(retry);
      hls?.destroy();
      video.removeAttribute('src');
      video.load();
    };
  }, [props.device, props.channel, attempt]);

  return (
    <figure class={props.compact ? 'live compact' : 'live'}>
      <video ref={ref} data-testid="live-video" muted autoplay playsInline controls={!props.compact} />
      <figcaption>
        {props.device} · channel {props.channel}
        {err && <span class="error"> — {err}</span>}
      </figcaption>
    </figure>
  );
}
