package record

import (
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/segfile"
)

// maxAudioWait bounds the audio units kept while no segment is open (a
// pre-roll delivers its audio before its video: about 40 s of AAC).
const maxAudioWait = 2048

// audioSpec is the recording side of a stream's audio track.
type audioSpec struct {
	codec relay.AudioCodec
	track segfile.Track
	// duration of one unit in ticks of track.TimeScale
	duration func(unit []byte) int64
}

// audioSpecOf returns how to record a relay audio track (nil: not
// recordable). AAC and Opus are stored as they come, G.711 as is.
func audioSpecOf(a relay.AudioTrack) *audioSpec {
	if a.ClockRate <= 0 || a.Channels <= 0 {
		return nil
	}
	s := &audioSpec{codec: a.Codec, track: segfile.Track{ID: segfile.AudioTrackID, TimeScale: uint32(a.ClockRate)}}
	switch a.Codec {
	case relay.AudioAAC:
		if a.AAC == nil {
			return nil
		}
		s.track.Codec = &codecs.MPEG4Audio{Config: *a.AAC}
		s.duration = func([]byte) int64 { return mpeg4audio.SamplesPerAccessUnit }
	case relay.AudioOpus:
		s.track.TimeScale = 48000
		s.track.Codec = &codecs.Opus{ChannelCount: a.Channels}
		s.duration = func(p []byte) int64 { return opus.PacketDuration2(p) }
	case relay.AudioPCMA, relay.AudioPCMU:
		s.track.G711 = &segfile.G711{MULaw: a.Codec == relay.AudioPCMU, SampleRate: a.ClockRate, ChannelCount: a.Channels}
		ch := int64(a.Channels)
		s.duration = func(p []byte) int64 { return int64(len(p)) / ch }
	default:
		return nil
	}
	return s
}

// audioUnit is one audio sample (an AAC access unit, an Opus packet, a
// block of G.711 samples) with its wall-clock time and its time on the
// stream's continuous audio clock (ticks of the track's timescale).
type audioUnit struct {
	codec   relay.AudioCodec
	ntp     time.Time
	pts     int64
	payload []byte
	dur     int64
}

// units splits an audio frame into units, each with its own time.
func (s *audioSpec) units(f relay.AudioFrame) []audioUnit {
	rate := int64(s.track.TimeScale)
	pts := durationToRate(f.PTS, rate)
	out := make([]audioUnit, 0, len(f.Frames))
	var off int64
	for _, p := range f.Frames {
		d := s.duration(p)
		if d <= 0 || len(p) == 0 {
			continue
		}
		out = append(out, audioUnit{
			codec:   f.Codec,
			ntp:     f.NTP.Add(rateToDuration(off, rate)),
			pts:     pts + off,
			payload: p,
			dur:     d,
		})
		off += d
	}
	return out
}

// durationToRate converts d to ticks of rate, to the nearest tick.
func durationToRate(d time.Duration, rate int64) int64 {
	s, rem := int64(d/time.Second), int64(d%time.Second)
	return s*rate + (rem*rate+int64(time.Second)/2)/int64(time.Second)
}

func rateToDuration(t, rate int64) time.Duration {
	return time.Duration(t/rate)*time.Second + time.Duration(t%rate)*time.Second/time.Duration(rate)
}

// segmentAudio is the audio track of a segment being written. Units wait
// in pending until the video fragment covering their time is written, so
// that each fragment carries the audio of its time span.
type segmentAudio struct {
	spec *audioSpec
	rate int64
	// media time (seconds from the segment's decode-time origin) of the
	// segment's first video frame, presented at its NTP time
	firstPresent time.Duration

	started bool
	ptsBase int64 // audio clock of the first unit
	dtsBase int64 // its decode time in the segment
	lastEnd int64 // end of the last unit placed

	pending []pendingUnit
}

type pendingUnit struct {
	dts int64
	u   audioUnit
}

// place gives u its decode time in the segment and queues it. Units that
// would play before the segment's start are dropped.
func (a *segmentAudio) place(u audioUnit, start time.Time) {
	var dts int64
	if !a.started {
		dts = durationToRate(u.ntp.Sub(start)+a.firstPresent, a.rate)
		if dts < 0 {
			return
		}
		a.started, a.ptsBase, a.dtsBase = true, u.pts, dts
	} else {
		dts = a.dtsBase + u.pts - a.ptsBase
		if dts < a.lastEnd {
			dts = a.lastEnd // the clock went back: lay it end to end
		}
	}
	a.lastEnd = dts + u.dur
	a.pending = append(a.pending, pendingUnit{dts: dts, u: u})
}

// take removes the pending units starting before end (ticks of the audio
// timescale) and returns them as a track fragment; nil when none. A gap
// in the audio within the fragment lengthens the unit before it.
func (a *segmentAudio) take(end int64) *fmp4.PartTrack {
	n := 0
	for n < len(a.pending) && a.pending[n].dts < end {
		n++
	}
	if n == 0 {
		return nil
	}
	tr := &fmp4.PartTrack{ID: segfile.AudioTrackID, BaseTime: uint64(a.pending[0].dts), Samples: make([]*fmp4.Sample, n)}
	for i := range n {
		p := a.pending[i]
		d := p.u.dur
		if i+1 < n {
			d = max(d, a.pending[i+1].dts-p.dts)
		}
		tr.Samples[i] = &fmp4.Sample{Duration: uint32(min(d, 1<<31)), Payload: p.u.payload}
	}
	a.pending = append(a.pending[:0:0], a.pending[n:]...)
	return tr
}

// rest returns the units left pending (they belong to the next segment).
func (a *segmentAudio) rest() []audioUnit {
	out := make([]audioUnit, len(a.pending))
	for i, p := range a.pending {
		out[i] = p.u
	}
	a.pending = nil
	return out
}

// toAudioTicks converts video ticks (90 kHz) to the audio timescale.
func (a *segmentAudio) toAudioTicks(v int64) int64 {
	return v * a.rate / segfile.VideoTimescale
}
