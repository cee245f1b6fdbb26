// A WHEP (RFC 9725) player: plays a channel's webrtc_url in a <video>
// through the browser's own WebRTC (no library). One offer with every ICE
// candidate in it (the server's answer has all of its own: no trickle),
// recvonly video (H.264) and audio (Opus/PCMA/PCMU, or inactive when the
// camera has none). The session is DELETEd when the player closes, also
// when the page goes away.

/** WHEPError is why a WHEP session did not start (or stopped). */
export class WHEPError extends Error {
  /**
   * status is the HTTP status of a refused offer (422: the camera's codec
   * cannot go to WebRTC, e.g. H.265), 0 for a network error, a timeout or a
   * failed connection.
   */
  readonly status: number;
  /** permanent: trying WebRTC again for this channel will not help. */
  readonly permanent: boolean;
  constructor(message: string, status: number, permanent: boolean) {
    super(message);
    this.name = 'WHEPError';
    this.status = status;
    this.permanent = permanent;
  }
}

export interface WHEPOptions {
  /** How long the first video frame may take after the answer (default 4 s). */
  videoTimeoutMs?: number;
  /** How long the POST may take (the server may wait for the stream to start; default 10 s). */
  offerTimeoutMs?: number;
  /** How long ICE gathering may take before the offer goes out as it is (default 1 s). */
  gatherTimeoutMs?: number;
  /** Aborting stops the start (the promise rejects) or closes a started session. */
  signal?: AbortSignal;
  /** Called once when a started session fails (the connection broke); the player is closed already. */
  onFail?: (e: WHEPError) => void;
}

/** WHEPPlayer is a started session: video is playing from it. */
export interface WHEPPlayer {
  /** hasAudio: the server sends an audio track. */
  readonly hasAudio: boolean;
  /** close DELETEs the session, closes the peer connection and detaches the video. */
  close(): void;
}

// iceDisconnectedGraceMs: a "disconnected" connection that has not come back
// after this long counts as failed (Chromium itself takes ~30 s to say so).
const iceDisconnectedGraceMs = 5000;
const stallCheckMs = 1000;
const stallMs = 8000;

/**
 * start plays url (a WHEP endpoint) in video and resolves once a video frame
 * was decoded; it rejects with a WHEPError when the offer is refused (non-201),
 * no video came within videoTimeoutMs, or the connection failed, having
 * cleaned up after itself (the session DELETEd, the peer connection closed).
 */
export async function start(url: string, video: HTMLVideoElement, o: WHEPOptions = {}): Promise<WHEPPlayer> {
  if (typeof RTCPeerConnection === 'undefined') throw new WHEPError('this browser has no WebRTC', 0, true);
  const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
  const stream = new MediaStream();
  let location = '';
  let closed = false;
  let started = false;
  let disconnectTimer: number | undefined;
  let stallTimer: number | undefined;
  let fail: (e: WHEPError) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = (e) => reject(e);
  });
  failed.catch(() => {}); // observed below; never an unhandled rejection

  // Leaving the page (or going into the back-forward cache) ends the
  // session; a player coming back from the cache starts again (onFail).
  const onPageHide = () => broke('the page was hidden', false);
  const onAbort = () => {
    close();
    fail(new WHEPError('aborted', 0, false));
  };
  function close() {
    if (closed) return;
    closed = true;
    if (disconnectTimer !== undefined) clearTimeout(disconnectTimer);
    if (stallTimer !== undefined) clearInterval(stallTimer);
    window.removeEventListener('pagehide', onPageHide);
    o.signal?.removeEventListener('abort', onAbort);
    pc.onconnectionstatechange = null;
    pc.ontrack = null;
    pc.close();
    if (location) {
      // keepalive: the DELETE still goes out when the page is being left.
      fetch(location, { method: 'DELETE', keepalive: true, mode: 'cors', credentials: 'omit' }).catch(() => {});
    }
    if (video.srcObject === stream) {
      video.srcObject = null;
      video.load();
    }
  }
  /**
   * broke is a failure of the connection: before the first frame it fails
   * start (permanent: WebRTC does not get through here), after it onFail
   * (never permanent: it worked a moment ago).
   */
  const broke = (why: string, permanent = true) => {
    if (closed) return;
    const e = new WHEPError(why, 0, permanent && !started);
    const wasStarted = started;
    close();
    if (wasStarted) o.onFail?.(e);
    else fail(e);
  };

  if (o.signal?.aborted) {
    close();
    throw new WHEPError('aborted', 0, false);
  }
  o.signal?.addEventListener('abort', onAbort);
  window.addEventListener('pagehide', onPageHide);

  pc.ontrack = (ev) => {
    if (!stream.getTracks().includes(ev.track)) stream.addTrack(ev.track);
  };
  pc.onconnectionstatechange = () => {
    const s = pc.connectionState;
    if (s === 'failed' || s === 'closed') {
      broke(`WebRTC connection ${s}`);
    } else if (s === 'disconnected') {
      if (disconnectTimer === undefined) disconnectTimer = window.setTimeout(() => broke('WebRTC connection lost'), iceDisconnectedGraceMs);
    } else if (disconnectTimer !== undefined) {
      clearTimeout(disconnectTimer);
      disconnectTimer = undefined;
    }
  };

  try {
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    await Promise.race([pc.setLocalDescription(await pc.createOffer()), failed]);
    await Promise.race([gathered(pc, o.gatherTimeoutMs ?? 1000), failed]);
    const offer = pc.localDescription?.sdp;
    if (!offer) throw new WHEPError('no local description', 0, true);

    const ctl = new AbortController();
    const offerTimer = window.setTimeout(() => ctl.abort(), o.offerTimeoutMs ?? 10000);
    const stop = () => ctl.abort();
    o.signal?.addEventListener('abort', stop);
    let resp: Response;
    let answer: string;
    try {
      resp = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp' },
        body: offer,
        mode: 'cors',
        credentials: 'omit',
        signal: ctl.signal,
      });
      answer = await resp.text();
    } catch (e) {
      throw new WHEPError(ctl.signal.aborted && !o.signal?.aborted ? 'the WHEP offer timed out' : `WHEP offer: ${e}`, 0, false);
    } finally {
      clearTimeout(offerTimer);
      o.signal?.removeEventListener('abort', stop);
    }
    const loc = resp.headers.get('Location');
    if (resp.status === 201 && loc) location = new URL(loc, resp.url || url).href;
    if (closed) throw new WHEPError('aborted', 0, false); // the session, if any, was DELETEd by close
    if (resp.status !== 201) {
      throw new WHEPError(`WebRTC ${resp.status}: ${problemDetail(answer)}`, resp.status, permanentStatus(resp.status));
    }
    await Promise.race([pc.setRemoteDescription({ type: 'answer', sdp: answer }), failed]);

    video.srcObject = stream;
    video.play().catch(() => {});
    await Promise.race([firstFrame(video, o.videoTimeoutMs ?? 4000), failed]);
    if (closed) throw new WHEPError('aborted', 0, false);
    started = true;
    // A stream that stopped (the camera went away) may leave the connection
    // up with no more frames: a playing video whose time stands still for
    // stallMs is a failure too.
    let last = video.currentTime;
    let still = 0;
    stallTimer = window.setInterval(() => {
      if (video.paused || video.currentTime !== last) {
        last = video.currentTime;
        still = 0;
      } else if ((still += stallCheckMs) >= stallMs) {
        broke('WebRTC video stalled');
      }
    }, stallCheckMs);
  } catch (e) {
    close();
    if (e instanceof WHEPError) throw e;
    throw new WHEPError(`WebRTC: ${e instanceof Error ? e.message : String(e)}`, 0, true);
  }
  return {
    hasAudio: stream.getAudioTracks().length > 0,
    close,
  };
}

/** gathered resolves when ICE gathering is complete, or after ms. */
function gathered(pc: RTCPeerConnection, ms: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const t = window.setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** firstFrame resolves when video has a decoded frame (videoWidth > 0), rejects after ms. */
function firstFrame(video: HTMLVideoElement, ms: number): Promise<void> {
  if (video.videoWidth > 0 && video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const evs = ['loadeddata', 'resize', 'playing', 'timeupdate'];
    const done = (err?: WHEPError) => {
      clearTimeout(t);
      for (const ev of evs) video.removeEventListener(ev, check);
      if (err) reject(err);
      else resolve();
    };
    const check = () => {
      if (video.videoWidth > 0 && video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) done();
    };
    const t = window.setTimeout(() => done(new WHEPError(`no WebRTC video within ${ms / 1000} s`, 0, true)), ms);
    for (const ev of evs) video.addEventListener(ev, check);
  });
}

/** problemDetail is a problem+json body's detail (or title), else the body's start. */
function problemDetail(body: string): string {
  try {
    const p = JSON.parse(body) as { detail?: string; title?: string };
    if (p.detail || p.title) return String(p.detail || p.title);
  } catch {
    // not JSON
  }
  return body.slice(0, 200) || 'no answer';
}

/**
 * permanentStatus: a refusal that the same offer to the same channel would
 * get again (a bad offer, a codec WebRTC cannot carry, no WHEP at all);
 * not an expired token (403, a fresh one comes with the next URLs), a stream
 * that is not there yet (404) or a busy server (5xx).
 */
function permanentStatus(status: number): boolean {
  return status === 400 || status === 405 || status === 415 || status === 422 || status === 501;
}
