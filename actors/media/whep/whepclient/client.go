// Package whepclient is a headless WHEP reader (RFC 9725 signalling, pion
// WebRTC media) for end-to-end tests and benchmarks: it receives H.264
// (packetization-mode 1) and Opus/PCMU/PCMA, reassembles the video into
// access units and counts what it gets, with the time to the first IDR.
package whepclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Stats is a snapshot of what a Client received.
type Stats struct {
	// Frames is the number of complete H.264 access units; Keyframes how
	// many of them were IDRs (h264.IsRandomAccess).
	Frames, Keyframes int
	// Incomplete counts access units with a sequence gap inside (not in
	// Frames); Lost counts the missing packets.
	Incomplete, Lost int
	VideoBytes       int64
	AudioPackets     int
	// FirstIsIDR reports whether the first complete access unit was an
	// IDR, i.e. the stream started decodable.
	FirstIsIDR bool
	// FirstFrame is the time from Dial's start to the first complete IDR
	// access unit (0 until then); Connected to the peer connection
	// connecting.
	FirstFrame, Connected time.Duration
}

// Client is one WHEP session.
type Client struct {
	opts       options
	pc         *webrtc.PeerConnection
	start      time.Time
	location   string
	answer     string
	audioCodec string

	mu         sync.Mutex
	stats      Stats
	firstFrame chan time.Duration
	connected  chan struct{}
	done       chan struct{}
	located    chan struct{}
	connOnce   sync.Once
	doneOnce   sync.Once
	closeOnce  sync.Once
	closeErr   error
	wg         sync.WaitGroup
	videoSSRC  uint32 // under mu; 0 until the video track arrives
}

// Dial opens a WHEP session at endpoint: a recvonly offer (video H.264,
// audio Opus/PCMU/PCMA) POSTed as application/sdp, the answer applied.
// It returns once the answer is set; media timing is in FirstFrame and
// Stats. ctx bounds the signalling only.
func Dial(ctx context.Context, endpoint string, opts ...Option) (*Client, error) {
	c := &Client{
		opts:       defaults(),
		start:      time.Now(),
		firstFrame: make(chan time.Duration, 1),
		connected:  make(chan struct{}),
		done:       make(chan struct{}),
		located:    make(chan struct{}),
	}
	for _, o := range opts {
		o(&c.opts)
	}
	pc, err := c.newPeerConnection()
	if err != nil {
		return nil, err
	}
	c.pc = pc
	if err := c.signal(ctx, endpoint); err != nil {
		if c.location != "" { // the server has a session: end it now
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.del(dctx)
			cancel()
		}
		c.finish()
		_ = pc.GracefulClose()
		c.wg.Wait()
		return nil, err
	}
	return c, nil
}

// signal does the offer/answer exchange.
func (c *Client) signal(ctx context.Context, endpoint string) error {
	if c.opts.trickle {
		c.trickle()
	}
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("whepclient: create offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("whepclient: set offer: %w", err)
	}
	if !c.opts.trickle {
		select {
		case <-gathered:
		case <-ctx.Done():
			return fmt.Errorf("whepclient: ICE gathering: %w", ctx.Err())
		}
	}
	answer, location, err := c.post(ctx, endpoint, c.pc.LocalDescription().SDP)
	if err != nil {
		return err
	}
	c.location, c.answer = location, answer
	close(c.located)
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("whepclient: set answer: %w", err)
	}
	c.audioCodec = audioCodecOf(answer)
	return nil
}

// Location is the session URL (DELETE, PATCH).
func (c *Client) Location() string { return c.location }

// Answer is the server's SDP answer.
func (c *Client) Answer() string { return c.answer }

// AudioCodec is the negotiated audio codec ("opus", "pcmu", "pcma"), ""
// when the server sends no audio.
func (c *Client) AudioCodec() string { return c.audioCodec }

// FirstFrame delivers, once, the time from Dial's start to the first
// complete IDR access unit.
func (c *Client) FirstFrame() <-chan time.Duration { return c.firstFrame }

// Connected is closed when the peer connection is connected.
func (c *Client) Connected() <-chan struct{} { return c.connected }

// Done is closed when the peer connection has failed or closed.
func (c *Client) Done() <-chan struct{} { return c.done }

// Stats is a snapshot of the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Frames is the number of complete access units received.
func (c *Client) Frames() int { return c.Stats().Frames }

// Keyframes is the number of complete IDR access units received.
func (c *Client) Keyframes() int { return c.Stats().Keyframes }

// AudioPackets is the number of audio RTP packets received.
func (c *Client) AudioPackets() int { return c.Stats().AudioPackets }

// SendPLI asks the server for a keyframe (RTCP Picture Loss Indication,
// RFC 4585), as a browser does when it cannot decode.
func (c *Client) SendPLI() error {
	c.mu.Lock()
	ssrc := c.videoSSRC
	c.mu.Unlock()
	if ssrc == 0 {
		return errors.New("whepclient: no video track yet")
	}
	if err := c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		return fmt.Errorf("whepclient: PLI: %w", err)
	}
	return nil
}

// Close DELETEs the session on the server, then closes the peer
// connection and waits for the client's goroutines. The error is the
// DELETE's.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		if c.location != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.closeErr = c.del(ctx)
			cancel()
		}
		c.finish()
		if err := c.pc.GracefulClose(); err != nil && c.closeErr == nil {
			c.closeErr = fmt.Errorf("whepclient: close: %w", err)
		}
		c.wg.Wait()
	})
	return c.closeErr
}

func (c *Client) finish() { c.doneOnce.Do(func() { close(c.done) }) }
