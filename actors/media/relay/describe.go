package relay

import (
	"reflect"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// sameStructure reports whether b has the same medias and formats as a
// (types, payload types, codecs, clock rates, H264 packetization), so
// readers of a can keep reading b.
func sameStructure(a, b *description.Session) bool {
	if len(a.Medias) != len(b.Medias) {
		return false
	}
	for i := range a.Medias {
		ma, mb := a.Medias[i], b.Medias[i]
		if ma.Type != mb.Type || len(ma.Formats) != len(mb.Formats) || ma.IsBackChannel != mb.IsBackChannel {
			return false
		}
		for j := range ma.Formats {
			fa, fb := ma.Formats[j], mb.Formats[j]
			if fa.PayloadType() != fb.PayloadType() || fa.Codec() != fb.Codec() || fa.ClockRate() != fb.ClockRate() {
				return false
			}
			if ha, ok := fa.(*format.H264); ok {
				hb := fb.(*format.H264)
				if ha.PacketizationMode != hb.PacketizationMode {
					return false
				}
			}
			if !reflect.DeepEqual(audioTrackOf(fa), audioTrackOf(fb)) {
				return false // another sample rate, channel count or AAC config
			}
		}
	}
	return true
}

// refreshParamsLocked takes new video parameter sets from a reconnected
// source's description.
func (st *Stream) refreshParamsLocked(desc *description.Session) {
	if st.video == nil {
		return
	}
	for _, f := range desc.Medias[st.video.index].Formats {
		switch f.(type) {
		case *format.H264, *format.H265:
			if st.video.video.refresh(f) && st.ss != nil {
				st.ss.ReloadDesc()
			}
			return
		}
	}
}

// cloneDescription copies a source description (medias and formats), so
// the relay never shares mutable objects with the source, and finds the
// video and audio codecs of each media.
func cloneDescription(desc *description.Session) (*description.Session, []*outMedia) {
	out := &description.Session{Title: desc.Title, FECGroups: desc.FECGroups}
	outs := make([]*outMedia, len(desc.Medias))
	for i, m := range desc.Medias {
		nm := &description.Media{
			Type:          m.Type,
			ID:            m.ID,
			IsBackChannel: m.IsBackChannel,
			Control:       m.Control,
		}
		om := &outMedia{index: i, medi: nm, formats: make(map[uint8]*outFormat, len(m.Formats))}
		for _, f := range m.Formats {
			nf := cloneFormat(f)
			nm.Formats = append(nm.Formats, nf)
			of := &outFormat{format: nf, clock: nf.ClockRate()}
			om.formats[nf.PayloadType()] = of
			if om.video == nil && om.audio == nil && !m.IsBackChannel {
				if vc := newVideoCodec(nf); vc != nil {
					om.video, of.video = vc, true
				} else if at := newAudioTrack(nf); at != nil {
					om.audio = at
				}
			}
		}
		out.Medias = append(out.Medias, nm)
		outs[i] = om
	}
	return out, outs
}

// cloneFormat returns a shallow copy of a format (formats are pointers to
// structs), as gortsplib itself does for its DESCRIBE answers.
func cloneFormat(f format.Format) format.Format {
	v := reflect.New(reflect.TypeOf(f).Elem())
	v.Elem().Set(reflect.ValueOf(f).Elem())
	return v.Interface().(format.Format)
}
