import { useEffect, useRef, useState } from 'preact/hooks';
import type Hls from 'hls.js/light';
import { ApiError } from '../../api';
import { deviceApi, type PlaybackURLs } from './http';
import { SECOND, clock, stamp } from './time';
import './device.css';

/** Selection is what to play: [at, end) of a channel's recordings; n tells two picks of one instant apart. */
export interface Selection {
  at: number;
  end: number;
  n: number;
}

/** RETRIES: fresh tokens asked for after fatal player errors, per selection. */
const RETRIES = 3;
/** mint asks for playback URLs of [at, end); their token lasts as long as the range plays. */
function mint(device: string, ch: number, at: number, end: number): Promise<PlaybackURLs> {
  return deviceApi.playback(device, ch, new Date(at), new Date(end));
}

/**
 * h265InMSE reports whether this browser's MSE decodes H.265 (Chromium
 * here does not): without it, hls.js asks for the range in H.264
 * (codec=h264: a range recorded in H.265 is transcoded, one in H.264
 * served as recorded).
 */
const h265InMSE = () =>
  typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"');

const problemText = (e: unknown) => (e instanceof ApiError ? `${e.status}: ${e.detail || e.title}` : String(e));

/**
 * Playback plays a range of recordings (HLS VOD, playback.m3u8; in H.264
 * where the browser lacks H.265) from its first instant: the playlist starts at the segment holding that instant,
 * so the player seeks by the playlist's EXT-X-PROGRAM-DATE-TIME. It reports
 * the wall-clock instant being played through onTime, about once a second.
 */
export function Playback(props: { device: string; channel: number; sel: Selection; onTime: (t: number) => void }) {
  const ref = useRef<HTMLVideoElement>(null);
  const [err, setErr] = useState('');
  const [playing, setPlaying] = useState<number>(props.sel.at);
  const [attempt, setAttempt] = useState(0);
  // Where a retry resumes (the last instant played), and how many were made.
  const resume = useRef<number | null>(null);
  const retries = useRef(0);
  const onTime = useRef(props.onTime);
  onTime.current = props.onTime;

  // A new selection starts over.
  useEffect(() => {
    resume.current = null;
    retries.current = 0;
    setPlaying(props.sel.at);
    setErr('');
  }, [props.device, props.channel, props.sel.n]);

  useEffect(() => {
    const video = ref.current;
    if (!video) return;
    const { end } = props.sel;
    const at = resume.current ?? props.sel.at;
    if (at >= end) return; // a retry after the range was played to its end
    let hls: Hls | null = null;
    let stopped = false;
    let retry: number | undefined;
    let last = -1;
    // now maps the video's position to the wall clock: hls.js knows each
    // fragment's program date-time; natively, the stream's start date.
    let now: () => number | null = () => null;
    const report = () => {
      const t = now();
      if (t === null) return;
      // Reported once a second (timeupdate fires about four times): the
      // timeline redraws its cursor, not more.
      const s = Math.floor(t / SECOND);
      if (s === last) return;
      last = s;
      resume.current = t;
      setPlaying(t);
      onTime.current(t);
    };
    const fail = (why: string) => {
      if (stopped) return;
      setErr(why);
      if (retries.current >= RETRIES) return;
      retries.current++;
      retry = window.setTimeout(() => setAttempt((a) => a + 1), 1000 * retries.current);
    };
    video.addEventListener('timeupdate', report);

    Promise.all([mint(props.device, props.channel, at, end), import('hls.js/light')])
      .then(([u, mod]) => {
        if (stopped) return;
        const H = mod.default;
        if (H.isSupported()) {
          const h = new H({ enableWorker: false, autoStartLoad: false });
          hls = h;
          let started = false;
          h.on(H.Events.LEVEL_LOADED, (_ev, data) => {
            if (started) return;
            started = true;
            const pdt = data.details.fragments[0]?.programDateTime;
            h.startLoad(pdt ? Math.max(0, (at - pdt) / SECOND) : 0);
          });
          h.on(H.Events.ERROR, (_ev, data) => {
            if (!data.fatal) return;
            h.destroy();
            hls = null;
            fail(`playback error: ${data.details}`);
          });
          now = () => h.playingDate?.getTime() ?? null;
          h.loadSource(h265InMSE() ? u.hls_url : `${u.hls_url}&codec=h264`);
          h.attachMedia(video);
        } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
          const v = video as HTMLVideoElement & { getStartDate?: () => Date };
          const start = () => {
            const d = v.getStartDate?.().getTime();
            return d !== undefined && !Number.isNaN(d) ? d : null;
          };
          v.addEventListener(
            'loadedmetadata',
            () => {
              const d = start();
              if (d !== null && at > d) v.currentTime = (at - d) / SECOND;
            },
            { once: true },
          );
          now = () => {
            const d = start();
            return d === null ? null : d + v.currentTime * SECOND;
          };
          v.src = u.hls_url;
        } else {
          setErr('this browser cannot play HLS');
          return;
        }
        setErr('');
        video.play().catch(() => {});
      })
      .catch((e) => {
        if (stopped) return;
        // A refused range (nothing recorded, too long) does not get better by retrying.
        if (e instanceof ApiError && e.status >= 400 && e.status < 500) setErr(problemText(e));
        else fail(problemText(e));
      });
    return () => {
      stopped = true;
      if (retry !== undefined) clearTimeout(retry);
      video.removeEventListener('timeupdate', report);
      hls?.destroy();
      video.removeAttribute('src');
      video.load();
    };
  }, [props.device, props.channel, props.sel.n, attempt]);

  return (
    <figure class="live playback">
      <video ref={ref} data-testid="playback-video" controls muted autoplay playsInline />
      <figcaption>
        recording ·{' '}
        <time data-testid="playback-time" data-time={new Date(playing).toISOString()}>
          {stamp(playing)}
        </time>{' '}
        <span class="hint">
          (range {clock(props.sel.at)}–{clock(props.sel.end)})
        </span>
        {err && <span class="error"> — {err}</span>}
      </figcaption>
    </figure>
  );
}
