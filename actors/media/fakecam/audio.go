package fakecam

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/pion/rtp"
)

// Audio codecs of Options.Audio.
const (
	AudioNone = "none"
	AudioAAC  = "aac"  // MPEG-4 AAC-LC, 48 kHz mono
	AudioPCMA = "pcma" // G.711 A-law, 8 kHz mono
	AudioPCMU = "pcmu" // G.711 µ-law, 8 kHz mono
	AudioOpus = "opus" // Opus, 48 kHz mono, 20 ms frames
)

// audioVersion changes the audio cache file names whenever the tone, the
// encoding or the parsing changes.
const audioVersion = 1

// The tone: 440 Hz with a 40 ms beep at 880 Hz at the start of every
// second, so its seconds can be matched to the video's counter by ear.
const toneFilter = "sine=frequency=440:beep_factor=2:sample_rate="

// audioSpec is how a codec's tone is encoded and sent.
type audioSpec struct {
	sampleRate   int // Hz, also the RTP clock rate
	frameSamples int // samples per RTP packet: an AAC access unit, 20 ms of G.711 or Opus
	// delay is the encoder's delay in samples (AAC priming, libopus's
	// pre-skip): the tone is fed from that sample on, so what a decoder
	// plays for frame m is the tone from m*frameSamples, as the video's
	// frames are (RTP readers get no pre-skip or edit list to undo it).
	delay int
	ext   string
	args  []string // ffmpeg output options, mono
}

var audioSpecs = map[string]audioSpec{
	AudioAAC:  {48000, mpeg4audio.SamplesPerAccessUnit, 1024, "adts", []string{"-c:a", "aac", "-b:a", "64k", "-f", "adts"}},
	AudioPCMA: {8000, 160, 0, "alaw", []string{"-c:a", "pcm_alaw", "-f", "alaw"}},
	AudioPCMU: {8000, 160, 0, "ulaw", []string{"-c:a", "pcm_mulaw", "-f", "mulaw"}},
	AudioOpus: {48000, 960, 312, "ogg", []string{"-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20",
		"-application", "audio", "-f", "ogg"}},
}

// loopSeconds is the length of a codec's loop: the shortest multiple of
// the video's clipSeconds made of whole frames (10 s for G.711 and Opus;
// 40 s for AAC, whose 1024-sample frames do not divide 10 s at 48 kHz),
// so the audio restarts only where the video does and its RTP and wall
// clock never drift from the video's.
func (s audioSpec) loopSeconds() int {
	n := clipSeconds
	for (n*s.sampleRate)%s.frameSamples != 0 {
		n += clipSeconds
	}
	return n
}

// audioClip is one loop of a codec's encoded tone.
type audioClip struct {
	codec string
	spec  audioSpec
	loop  int // seconds
	aac   *mpeg4audio.AudioSpecificConfig
	// frames are loop seconds of frameSamples each, to send one per
	// frame duration.
	frames [][]byte
}

var audioClips onceMap[string, *audioClip]

// loadAudio returns the tone of codec, encoding it at most once per
// process and machine, like loadClip.
func loadAudio(ctx context.Context, codec string) (*audioClip, error) {
	return audioClips.get(ctx, codec, func(ctx context.Context) (*audioClip, error) {
		s := audioSpecs[codec]
		name := fmt.Sprintf("argus-fakecam-audio-v%d-%s-%dhz.%s", audioVersion, codec, s.sampleRate, s.ext)
		var a *audioClip
		_, _, err := cachedFile(name, func() ([]byte, error) { return encodeAudio(ctx, codec) }, func(buf []byte) error {
			p, err := parseAudio(codec, buf)
			if err != nil {
				return fmt.Errorf("fakecam: parsing ffmpeg's %s output: %w", codec, err)
			}
			a = p
			return nil
		})
		return a, err
	})
}

// encodeAudio encodes two loops of the tone and a second more (the
// encoder's tail); parseAudio keeps the second loop, where the encoder
// has the previous loop's end behind it, as when it loops.
func encodeAudio(ctx context.Context, codec string) ([]byte, error) {
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, ErrNoFFmpeg
	}
	s := audioSpecs[codec]
	sr := strconv.Itoa(s.sampleRate)
	n := (2*s.loopSeconds() + 1) * s.sampleRate
	args := []string{
		"-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", toneFilter + sr,
		"-af", fmt.Sprintf("atrim=start_sample=%d:end_sample=%d,asetpts=N/SR/TB", s.delay, s.delay+n),
		"-ac", "1", "-ar", sr,
	}
	args = append(append(args, s.args...), "-")
	return runFFmpeg(ctx, bin, args, nil)
}

// parseAudio splits ffmpeg's output into frames and keeps the second loop.
func parseAudio(codec string, buf []byte) (*audioClip, error) {
	s := audioSpecs[codec]
	a := &audioClip{codec: codec, spec: s, loop: s.loopSeconds()}
	var frames [][]byte
	switch codec {
	case AudioAAC:
		var pkts mpeg4audio.ADTSPackets
		if err := pkts.Unmarshal(buf); err != nil {
			return nil, err
		}
		for _, p := range pkts {
			if p.Type != mpeg4audio.ObjectTypeAACLC || p.SampleRate != s.sampleRate || p.ChannelConfig != 1 {
				return nil, fmt.Errorf("ADTS packet of type %d, %d Hz, channel configuration %d; want AAC-LC, %d Hz, mono",
					p.Type, p.SampleRate, p.ChannelConfig, s.sampleRate)
			}
			frames = append(frames, p.AU)
		}
		a.aac = &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: s.sampleRate, ChannelConfig: 1}
	case AudioPCMA, AudioPCMU:
		for len(buf) >= s.frameSamples {
			frames = append(frames, buf[:s.frameSamples]) // a byte a sample
			buf = buf[s.frameSamples:]
		}
	case AudioOpus:
		pkts, err := oggPackets(buf)
		if err != nil {
			return nil, err
		}
		if len(pkts) < 2 {
			return nil, errors.New("no Opus headers")
		}
		var head opus.IDHeader
		if err := head.Unmarshal(pkts[0]); err != nil {
			return nil, fmt.Errorf("OpusHead: %w", err)
		}
		if head.ChannelCount != 1 {
			return nil, fmt.Errorf("OpusHead: %d channels, want 1", head.ChannelCount)
		}
		frames = pkts[2:] // after OpusHead and OpusTags
	default:
		return nil, fmt.Errorf("unknown audio codec %q", codec)
	}
	per := a.loop * s.sampleRate / s.frameSamples
	if len(frames) < 2*per {
		return nil, fmt.Errorf("%d frames, want at least %d", len(frames), 2*per)
	}
	a.frames = frames[per : 2*per]
	if codec == AudioOpus {
		for i, f := range a.frames {
			if d := opus.PacketDuration2(f); d != int64(s.frameSamples) {
				return nil, fmt.Errorf("Opus packet %d lasts %d samples, want %d", per+i, d, s.frameSamples)
			}
		}
	}
	return a, nil
}

// at is when frame m of the endless audio is due, after the start:
// whole loops (whole seconds) plus frames, exact for any m.
func (a *audioClip) at(m int64) time.Duration {
	per := int64(len(a.frames))
	return time.Duration(m/per)*time.Duration(a.loop)*time.Second +
		time.Duration(m%per*int64(a.spec.frameSamples))*time.Second/time.Duration(a.spec.sampleRate)
}

// rtpTime is frame m's RTP timestamp, from a random ts0.
func (a *audioClip) rtpTime(ts0 uint32, m int64) uint32 {
	return ts0 + uint32(m*int64(a.spec.frameSamples))
}

// format is the RTP format the streams announce for the tone.
func (a *audioClip) format() format.Format {
	switch a.codec {
	case AudioAAC:
		return &format.MPEG4Audio{PayloadTyp: 97, Config: a.aac, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
	case AudioPCMA, AudioPCMU:
		pt := uint8(8)
		if a.codec == AudioPCMU {
			pt = 0
		}
		return &format.G711{PayloadTyp: pt, MULaw: a.codec == AudioPCMU, SampleRate: 8000, ChannelCount: 1}
	}
	return &format.Opus{PayloadTyp: 111, ChannelCount: 1}
}

// audioEncoder packetizes one frame; timestamps are relative to it (0).
type audioEncoder func(frame []byte) ([]*rtp.Packet, error)

func newAudioEncoder(forma format.Format) (audioEncoder, error) {
	switch f := forma.(type) {
	case *format.MPEG4Audio:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		return func(frame []byte) ([]*rtp.Packet, error) { return e.Encode([][]byte{frame}) }, nil
	case *format.G711:
		e, err := f.CreateEncoder() // rtplpcm, 8 bits a sample: 160 bytes fit one packet
		if err != nil {
			return nil, err
		}
		return e.Encode, nil
	case *format.Opus:
		e, err := f.CreateEncoder() // rtpsimpleaudio: one frame, one packet
		if err != nil {
			return nil, err
		}
		return func(frame []byte) ([]*rtp.Packet, error) {
			p, err := e.Encode(frame)
			return []*rtp.Packet{p}, err
		}, nil
	}
	return nil, fmt.Errorf("fakecam: no RTP encoder for %T", forma)
}
