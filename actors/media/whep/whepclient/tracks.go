package whepclient

import (
	"errors"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/webrtc/v4"
)

func (c *Client) onTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	// Drain RTCP (sender reports): the interceptors only process what is
	// read.
	c.wg.Go(func() {
		for {
			if _, _, err := recv.ReadRTCP(); err != nil {
				return
			}
		}
	})
	switch track.Kind() {
	case webrtc.RTPCodecTypeVideo:
		c.mu.Lock()
		c.videoSSRC = uint32(track.SSRC())
		c.mu.Unlock()
		c.wg.Go(func() { c.readVideo(track) })
	case webrtc.RTPCodecTypeAudio:
		c.wg.Go(func() { c.readAudio(track) })
	}
}

// readVideo reassembles access units. A packet missing by sequence number
// marks the access unit it falls in as incomplete; a late packet (a
// retransmission after its frame was given up) is skipped.
func (c *Client) readVideo(track *webrtc.TrackRemote) {
	dec := &rtph264.Decoder{PacketizationMode: 1}
	if err := dec.Init(); err != nil {
		return
	}
	var next uint16
	started, damaged := false, false
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		if started {
			d := int16(pkt.SequenceNumber - next)
			if d < 0 {
				continue
			}
			if d > 0 {
				c.mu.Lock()
				c.stats.Lost += int(d)
				c.mu.Unlock()
				damaged = true
			}
		}
		started, next = true, pkt.SequenceNumber+1
		c.mu.Lock()
		c.stats.VideoBytes += int64(len(pkt.Payload))
		c.mu.Unlock()
		au, err := dec.Decode(pkt)
		switch {
		case errors.Is(err, rtph264.ErrMorePacketsNeeded):
			continue
		case err != nil:
			damaged = true
			continue
		}
		c.onAU(au, pkt.Timestamp, damaged)
		damaged = false
	}
}

func (c *Client) onAU(au [][]byte, ts uint32, damaged bool) {
	key := h264.IsRandomAccess(au)
	c.mu.Lock()
	if damaged {
		c.stats.Incomplete++
		c.mu.Unlock()
		return
	}
	c.stats.Frames++
	if c.stats.Frames == 1 {
		c.stats.FirstIsIDR = key
	}
	first := false
	if key {
		c.stats.Keyframes++
		if c.stats.FirstFrame == 0 {
			c.stats.FirstFrame = time.Since(c.start)
			first = true
		}
	}
	ff := c.stats.FirstFrame
	c.mu.Unlock()
	if first {
		c.firstFrame <- ff // buffered, sent once
	}
	if c.opts.onFrame != nil {
		c.opts.onFrame(au, ts)
	}
}

func (c *Client) readAudio(track *webrtc.TrackRemote) {
	for {
		if _, _, err := track.ReadRTP(); err != nil {
			return
		}
		c.mu.Lock()
		c.stats.AudioPackets++
		c.mu.Unlock()
	}
}
