import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type Hls from 'hls.js/light';
import { api, ApiError, type LiveURLs } from './api';
import { BASE, navigate } from './router';
import { start as startWHEP, WHEPError, type WHEPPlayer } from './whep';

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

/** Transport is how a live view plays: WebRTC (WHEP) or HLS. */
export type Transport = 'webrtc' | 'hls';

/**
 * LiveVideo plays one channel's live stream. The API gives URLs that carry
 * a stream token (the API key never goes into a URL): WebRTC first, through
 * the webrtc_url (WHEP, src/whep.ts: under a second of latency), and HLS
 * when the node has no WebRTC or it fails (the offer refused, e.g. 422 for
 * an H.265 camera; no video within 4 s; the connection failed): hls.js
 * plays the ll_hls_url (LL-HLS; the hls_url from nodes without it) through
 * MSE (the <video> gets a blob: URL), or the browser natively. A camera
 * whose codec WebRTC cannot carry (H.265: 422 naming ?codec=h264) is played
 * through its H.264 rendition, WebRTC first again. A refusal that would come again (a codec WebRTC cannot
 * carry, a network WebRTC does not get through) keeps this view on HLS
 * until its channel changes. On an expired token or a fatal error it asks
 * for fresh URLs and retries, backing off. The video starts muted (autoplay
 * policy); the audio toggle (or the video's own controls) unmutes it,
 * whichever the transport.
 */
export function LiveVideo(props: { device: string; channel: number; compact?: boolean }) {
  const ref = useRef<HTMLVideoElement>(null);
  const [err, setErr] = useState<string>('');
  const [attempt, setAttempt] = useState(0);
  const [transport, setTransport] = useState<{ kind: Transport; why: string; channel: string } | null>(null);
  const [muted, setMuted] = useState(true);
  // noWebRTC: WHEP was refused for good on this channel: HLS only.
  const noWebRTC = useRef(false);
  // rendition: the camera's codec is not for browsers (H.265): its H.264
  // rendition (?codec=h264, a transcode on the cluster's workers) is played.
  const rendition = useRef<'' | 'h264'>('');
  const channel = `${props.device}:${props.channel}`;
  const shown = useRef(channel);
  if (shown.current !== channel) {
    shown.current = channel;
    noWebRTC.current = false;
    rendition.current = '';
  }

  // The toggle and the video's own controls agree: both set video.muted.
  useEffect(() => {
    const video = ref.current;
    if (!video) return;
    const sync = () => setMuted(video.muted);
    video.addEventListener('volumechange', sync);
    return () => video.removeEventListener('volumechange', sync);
  }, []);
  useEffect(() => {
    if (ref.current) ref.current.muted = muted;
  }, [muted]);

  useEffect(() => {
    const video = ref.current;
    if (!video) return;
    let hls: Hls | null = null;
    let player: WHEPPlayer | null = null;
    const abort = new AbortController();
    let stopped = false;
    let retry: number | undefined;
    const again = (why: string) => {
      if (stopped) return;
      setErr(why);
      // 3 s, 6 s, 12 s, … up to 30 s between tries: a dead camera is not hammered.
      retry = window.setTimeout(() => setAttempt((a) => a + 1), Math.min(30000, 3000 * 2 ** Math.min(attempt, 4)));
    };
    const playHLS = async (u: LiveURLs, why: string) => {
      // hls.js (its light build: no subtitles, alternate audio or DRM) is a
      // chunk of its own, loaded with the first HLS video.
      const Hls = (await import('hls.js/light')).default;
      if (stopped) return;
      setTransport({ kind: 'hls', why, channel: `${props.device}:${props.channel}` });
      const src = u.ll_hls_url ?? u.hls_url;
      if (Hls.isSupported()) {
        hls = new Hls({ enableWorker: false, lowLatencyMode: u.ll_hls_url !== undefined, liveSyncDurationCount: 2 });
        hls.on(Hls.Events.ERROR, (_ev, data) => {
          if (!data.fatal) return;
          hls?.destroy();
          hls = null;
          again(`stream error: ${data.details}`);
        });
        hls.loadSource(src);
        hls.attachMedia(video);
      } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
        video.src = src;
      } else {
        setErr('this browser cannot play HLS');
        return;
      }
      video.play().catch(() => {});
    };
    const play = async (): Promise<void> => {
      const u = await api.live(props.device, props.channel, rendition.current);
      if (stopped) return;
      setErr('');
      let why = 'this node serves no WebRTC';
      if (u.webrtc_url && !noWebRTC.current) {
        try {
          player = await startWHEP(u.webrtc_url, video, {
            signal: abort.signal,
            onFail: (e) => {
              player = null;
              again(e.message);
            },
          });
          if (stopped) return; // the abort closed it
          setTransport({
            kind: 'webrtc',
            why: (rendition.current ? 'the H.264 rendition of the camera; ' : '') + (player.hasAudio ? 'with audio' : 'no audio from this camera'),
            channel: `${props.device}:${props.channel}`,
          });
          return;
        } catch (e) {
          if (stopped) return;
          if (e instanceof WHEPError && e.status === 422 && /codec=h264/.test(e.message) && rendition.current === '') {
            rendition.current = 'h264'; // the camera's codec is not WebRTC's: its H.264 rendition is
            return play();
          }
          if (e instanceof WHEPError && e.permanent) noWebRTC.current = true;
          why = e instanceof Error ? e.message : String(e);
        }
      } else if (u.webrtc_url) {
        why = 'WebRTC was refused on this channel before';
      }
      await playHLS(u, why);
    };
    play().catch((e) => again(e instanceof ApiError ? `${e.status}: ${e.detail}` : String(e)));
    return () => {
      stopped = true;
      if (retry !== undefined) clearTimeout(retry);
      abort.abort();
      player?.close();
      hls?.destroy();
      video.removeAttribute('src');
      video.srcObject = null;
      video.load();
    };
  }, [props.device, props.channel, attempt]);

  return (
    <figure class={props.compact ? 'live compact' : 'live'}>
      <video ref={ref} data-testid="live-video" muted autoplay playsInline controls={!props.compact} />
      <figcaption>
        <button
          type="button"
          class="audio-toggle"
          data-testid="live-audio-toggle"
          aria-pressed={!muted}
          data-muted={String(muted)}
          title={muted ? 'Audio is off: turn it on' : 'Audio is on: turn it off'}
          onClick={() => setMuted(!muted)}
        >
          {muted ? 'Unmute' : 'Mute'}
        </button>
        {transport && transport.channel === channel && (
          <span class={'transport transport-' + transport.kind} data-testid="live-transport" title={transport.why}>
            {transport.kind}
          </span>
        )}
        {props.device} · channel {props.channel}
        {err && <span class="error"> — {err}</span>}
      </figcaption>
    </figure>
  );
}
