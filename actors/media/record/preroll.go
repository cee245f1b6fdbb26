package record

import (
	"sync"
	"time"

	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/subs"
)

// PreRoll keeps the last seconds of a stream's access units, from an IDR,
// and of its audio, so that an event recording can start before the event
// that triggered it. It holds up to Keep plus one GOP of video in memory
// (30 s of a 2 Mbit/s camera: about 8 MB).
type PreRoll struct {
	keep      time.Duration
	audioSrc  AudioSource // nil: the source has no audio
	mu        sync.Mutex
	buf       []relay.Frame
	audio     []relay.AudioFrame // from the time of buf[0]
	subs      subs.List[relay.Frame]
	audioSubs subs.List[relay.AudioFrame]
	unsub     func()
}

// NewPreRoll starts buffering src (its audio too if it is an AudioSource).
func NewPreRoll(src Source, keep time.Duration) *PreRoll {
	p := &PreRoll{keep: keep}
	unsubAudio := func() {}
	if as, ok := src.(AudioSource); ok {
		p.audioSrc = as
		unsubAudio = as.SubscribeAudio(p.onAudio)
	}
	unsubVideo := src.SubscribeVideo(p.onAU)
	p.unsub = func() { unsubVideo(); unsubAudio() }
	return p
}

// Close stops buffering; subscribers get nothing more.
func (p *PreRoll) Close() {
	p.unsub()
	p.mu.Lock()
	p.buf, p.audio, p.subs, p.audioSubs = nil, nil, nil, nil
	p.mu.Unlock()
}

// Len is the number of access units and audio frames buffered.
func (p *PreRoll) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf) + len(p.audio)
}

// onAudio runs on the relay's write path: it keeps the audio from the
// first buffered access unit on and passes the frame on.
func (p *PreRoll) onAudio(f relay.AudioFrame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		p.audio = append(p.audio, f)
	}
	p.audioSubs.Deliver(f)
}

// trimAudioLocked drops the audio older than the first buffered access unit.
func (p *PreRoll) trimAudioLocked() {
	if len(p.buf) == 0 {
		p.audio = nil
		return
	}
	i := 0
	for i < len(p.audio) && p.audio[i].NTP.Before(p.buf[0].NTP) {
		i++
	}
	if i > 0 {
		p.audio = append(p.audio[:0:0], p.audio[i:]...)
	}
}

// onAU runs on the relay's write path: it appends, trims whole GOPs older
// than keep (the buffer always starts at an IDR) and passes the unit on.
func (p *PreRoll) onAU(f relay.Frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 || f.Random {
		p.buf = append(p.buf, f)
	}
	// Drop the oldest GOP while the next one still starts keep or more ago.
	for {
		next := -1
		for i := 1; i < len(p.buf); i++ {
			if p.buf[i].Random {
				next = i
				break
			}
		}
		if next < 0 || f.NTP.Sub(p.buf[next].NTP) < p.keep {
			break
		}
		p.buf = append(p.buf[:0:0], p.buf[next:]...)
		p.trimAudioLocked()
	}
	p.subs.Deliver(f)
}

// From is a source that starts at the last IDR at or before t (the
// buffer's first one when t is older) and continues live; its audio (an
// AudioSource when the stream has audio) starts at the same time.
func (p *PreRoll) From(t time.Time) Source {
	if p.audioSrc != nil {
		return preRollFromAudio{preRollFrom{p: p, t: t}}
	}
	return preRollFrom{p: p, t: t}
}

type preRollFrom struct {
	p *PreRoll
	t time.Time
}

// startLocked is the index of the first access unit f delivers.
func (f preRollFrom) startLocked() int {
	start := 0
	for i, it := range f.p.buf {
		if it.NTP.After(f.t) {
			break
		}
		if it.Random {
			start = i
		}
	}
	return start
}

func (f preRollFrom) SubscribeVideo(fn func(relay.Frame)) func() {
	p := f.p
	p.mu.Lock()
	defer p.mu.Unlock()
	start := f.startLocked()
	for _, it := range p.buf[start:] {
		fn(it)
	}
	return p.subs.Add(fn)
}

type preRollFromAudio struct{ preRollFrom }

func (f preRollFromAudio) Audio() (relay.AudioTrack, bool) { return f.p.audioSrc.Audio() }

func (f preRollFromAudio) SubscribeAudio(fn func(relay.AudioFrame)) func() {
	p := f.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if start := f.startLocked(); start < len(p.buf) {
		from := p.buf[start].NTP
		for _, a := range p.audio {
			if !a.NTP.Before(from) {
				fn(a)
			}
		}
	}
	return p.audioSubs.Add(fn)
}
