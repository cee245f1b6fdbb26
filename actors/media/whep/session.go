package whep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// Session is one WHEP reader: a PeerConnection sending one stream.
type Session struct {
	id    string
	srv   *Server
	log   *slog.Logger
	pc    *webrtc.PeerConnection
	src   VideoSource
	asrc  AudioSource // nil: no audio track
	video *videoSender
	audio *audioSender
	ufrag string

	// done is closed when the session starts ending; finished once it has.
	done     chan struct{}
	finished chan struct{}
	timer    *time.Timer
	wg       sync.WaitGroup // writers and RTCP readers

	mu      sync.Mutex
	started bool // media flowing (and counted in Readers)
	closing bool // Close has begun
	unsubs  []func()
	onClose []func()
}

func (s *Server) newSession(plan *offerPlan, src VideoSource, audio AudioSource) (*Session, error) {
	id := newID()
	log := s.log.With("whep_session", id)
	api, err := s.api(plan)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: s.iceServers})
	if err != nil {
		return nil, fmt.Errorf("whep: peer connection: %w", err)
	}
	sess := &Session{
		id: id, srv: s, log: log, pc: pc, src: src, ufrag: plan.ufrag,
		done: make(chan struct{}), finished: make(chan struct{}),
	}
	if err := sess.addTracks(plan, audio); err != nil {
		_ = pc.GracefulClose()
		sess.wg.Wait()
		return nil, err
	}
	if plan.audio == nil {
		log.Debug("no audio track", "why", plan.audioWhy)
	}
	pc.OnConnectionStateChange(sess.onState)
	sess.timer = time.AfterFunc(s.cfg.SessionTimeout, sess.timeout)
	// Listed last: from here Server.Close may close it.
	if err := s.add(sess); err != nil {
		sess.Close()
		return nil, err
	}
	return sess, nil
}

// addTracks adds the send-only transceivers before the offer is applied,
// so pion pairs them with the offer's recvonly m-lines.
func (sess *Session) addTracks(plan *offerPlan, audio AudioSource) error {
	v, err := newVideoSender(plan.video, sess.log)
	if err != nil {
		return err
	}
	tr, err := sess.pc.AddTransceiverFromTrack(v.track,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fmt.Errorf("whep: video transceiver: %w", err)
	}
	sess.video = v
	sess.readRTCP(tr.Sender(), "video")
	if plan.audio == nil {
		return nil
	}
	a, err := newAudioSender(*plan.audio, sess.log)
	if err != nil {
		return err
	}
	tr, err = sess.pc.AddTransceiverFromTrack(a.track,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fmt.Errorf("whep: audio transceiver: %w", err)
	}
	sess.audio, sess.asrc = a, audio
	sess.readRTCP(tr.Sender(), "audio")
	return nil
}

// negotiate applies the offer and returns the answer once ICE gathering
// is complete (WHEP's one round trip carries every candidate).
func (sess *Session) negotiate(ctx context.Context, offerSDP string) (string, error) {
	err := sess.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	// m-lines we send nothing on (audio without a usable source codec, a
	// second video) got a sender-less transceiver from pion: stopping it
	// answers the section a=inactive.
	for _, tr := range sess.pc.GetTransceivers() {
		if tr.Sender() == nil {
			if err := tr.Stop(); err != nil {
				return "", fmt.Errorf("whep: stop unused %s transceiver: %w", tr.Kind(), err)
			}
		}
	}
	answer, err := sess.pc.CreateAnswer(nil)
	if errors.Is(err, webrtc.ErrSenderWithNoCodecs) {
		return "", fmt.Errorf("%w: %v", ErrNoCodec, err)
	} else if err != nil {
		return "", fmt.Errorf("whep: create answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(sess.pc)
	if err := sess.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("whep: set answer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("whep: ICE gathering: %w", ctx.Err())
	case <-sess.done:
		return "", ErrClosed
	}
	return sess.pc.LocalDescription().SDP, nil
}

// onState runs on pion's goroutine: starting is quick, ending is handed
// off (GracefulClose must not run inside a PeerConnection callback).
func (sess *Session) onState(st webrtc.PeerConnectionState) {
	sess.log.Debug("peer connection", "state", st.String())
	switch st {
	case webrtc.PeerConnectionStateConnected:
		sess.start()
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		go sess.Close()
	}
}

// start subscribes once the peer is connected (ICE and DTLS), not before:
// the source replays its cached GOP on subscribe, and that must be the
// first thing the peer gets, not something lost while ICE was checking.
func (sess *Session) start() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.started || sess.closing {
		return
	}
	sess.started = true
	sess.timer.Stop()
	sess.srv.readers.Add(1)
	sess.log.Info("WHEP reader connected")
	sess.wg.Go(sess.video.run)
	sess.unsubs = append(sess.unsubs, sess.src.SubscribeAU(sess.video.onAU))
	if sess.audio != nil {
		sess.wg.Go(sess.audio.run)
		sess.unsubs = append(sess.unsubs, sess.asrc.SubscribeAudio(sess.audio.onAudio))
	}
}

func (sess *Session) timeout() {
	sess.mu.Lock()
	started := sess.started
	sess.mu.Unlock()
	if !started {
		sess.log.Info("WHEP session not connected in time, closing", "timeout", sess.srv.cfg.SessionTimeout)
		sess.Close()
	}
}

// ID is the session's random, URL-safe id (the last segment of its
// Location).
func (sess *Session) ID() string { return sess.id }

// Done is closed when the session ends: the peer connection failed or
// closed, the session timed out unconnected, or Close was called.
func (sess *Session) Done() <-chan struct{} { return sess.done }

// OnClose registers fn to run once the session has ended and released
// everything (for the caller's reader counting); at once if it already
// has.
func (sess *Session) OnClose(fn func()) {
	sess.mu.Lock()
	if !sess.closing {
		sess.onClose = append(sess.onClose, fn)
		sess.mu.Unlock()
		return
	}
	sess.mu.Unlock()
	<-sess.finished
	fn()
}

// Close ends the session: it unsubscribes, closes the peer connection and
// waits for the session's goroutines. It may be called more than once and
// from an OnClose function.
func (sess *Session) Close() {
	sess.mu.Lock()
	if sess.closing {
		sess.mu.Unlock()
		<-sess.finished
		return
	}
	sess.closing = true
	started, unsubs := sess.started, sess.unsubs
	sess.unsubs = nil
	sess.mu.Unlock()

	close(sess.done)
	sess.timer.Stop()
	for _, unsub := range unsubs {
		unsub()
	}
	sess.video.q.close()
	if sess.audio != nil {
		sess.audio.q.close()
	}
	if err := sess.pc.GracefulClose(); err != nil {
		sess.log.Debug("close peer connection", "err", err)
	}
	sess.wg.Wait()
	sess.srv.remove(sess)
	if started {
		sess.srv.readers.Add(-1)
		sess.log.Info("WHEP reader gone", "video_dropped", sess.video.q.droppedFrames())
	}
	close(sess.finished)

	sess.mu.Lock()
	fns := sess.onClose
	sess.onClose = nil
	sess.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
