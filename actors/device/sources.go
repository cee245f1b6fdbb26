package device

import (
	"strconv"
	"strings"

	"github.com/argus-vms/argus/events/pb"
)

// Source is where one channel's video comes from, as the camera described
// it over ONVIF (pb.ChannelSource). URLs carry no credentials.
type Source struct {
	VideoSource  string `json:"video_source,omitempty"`
	SourceConfig string `json:"source_config,omitempty"`
	Profile      string `json:"profile,omitempty"`
	StreamURL    string `json:"stream_url,omitempty"`
	SubProfile   string `json:"sub_profile,omitempty"`
	SubStreamURL string `json:"sub_stream_url,omitempty"`
	SnapshotURL  string `json:"snapshot_url,omitempty"`
	PTZ          bool   `json:"ptz,omitempty"`
	Width        uint32 `json:"width,omitempty"`
	Height       uint32 `json:"height,omitempty"`
}

// Info is the camera's ONVIF device information (pb.OnvifInfo).
type Info struct {
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	Firmware     string `json:"firmware,omitempty"`
	Serial       string `json:"serial,omitempty"`
	Hardware     string `json:"hardware,omitempty"`
}

// ChannelURL is the URL a channel's stream is pulled from: the stream URI
// the camera gave for it over ONVIF, else the device URL with "{channel}"
// replaced by the channel number.
func ChannelURL(deviceURL string, sources []Source, ch int) string {
	if ch >= 1 && ch <= len(sources) && sources[ch-1].StreamURL != "" {
		return sources[ch-1].StreamURL
	}
	return strings.ReplaceAll(deviceURL, "{channel}", strconv.Itoa(ch))
}

func sourcesFromPB(in []*pb.ChannelSource) []Source {
	if len(in) == 0 {
		return nil
	}
	out := make([]Source, len(in))
	for i, s := range in {
		out[i] = Source{VideoSource: s.GetVideoSource(), SourceConfig: s.GetSourceConfig(), Profile: s.GetProfile(), StreamURL: s.GetStreamUrl(),
			SubProfile: s.GetSubProfile(), SubStreamURL: s.GetSubStreamUrl(), SnapshotURL: s.GetSnapshotUrl(),
			PTZ: s.GetPtz(), Width: s.GetWidth(), Height: s.GetHeight()}
	}
	return out
}

// SourcesPB is the wire form of sources.
func SourcesPB(in []Source) []*pb.ChannelSource {
	if len(in) == 0 {
		return nil
	}
	out := make([]*pb.ChannelSource, len(in))
	for i, s := range in {
		out[i] = &pb.ChannelSource{VideoSource: s.VideoSource, SourceConfig: s.SourceConfig, Profile: s.Profile, StreamUrl: s.StreamURL,
			SubProfile: s.SubProfile, SubStreamUrl: s.SubStreamURL, SnapshotUrl: s.SnapshotURL,
			Ptz: s.PTZ, Width: s.Width, Height: s.Height}
	}
	return out
}

func infoFromPB(in *pb.OnvifInfo) Info {
	return Info{Manufacturer: in.GetManufacturer(), Model: in.GetModel(), Firmware: in.GetFirmware(),
		Serial: in.GetSerial(), Hardware: in.GetHardware()}
}

// InfoPB is the wire form of info (nil when empty).
func InfoPB(in Info) *pb.OnvifInfo {
	if in == (Info{}) {
		return nil
	}
	return &pb.OnvifInfo{Manufacturer: in.Manufacturer, Model: in.Model, Firmware: in.Firmware, Serial: in.Serial, Hardware: in.Hardware}
}
