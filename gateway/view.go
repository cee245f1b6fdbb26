package gateway

import (
	"strconv"
	"time"

	"github.com/argus-vms/argus/events/pb"
)

// deviceJSON is the API form of a device. It has no password field, so a
// password cannot leak through it.
type deviceJSON struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	URL       string            `json:"url"`
	Onvif     string            `json:"onvif,omitempty"`
	Username  string            `json:"username,omitempty"`
	Channels  uint32            `json:"channels"`
	Labels    map[string]string `json:"labels"`
	Camera    *cameraJSON       `json:"camera,omitempty"`
	Sources   []sourceJSON      `json:"sources,omitempty"`
	Status    string            `json:"status"`
	Version   uint64            `json:"version"`
	CreatedAt string            `json:"created_at"`
	UpdatedAt string            `json:"updated_at"`
}

// cameraJSON is what an ONVIF camera says it is.
type cameraJSON struct {
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	Firmware     string `json:"firmware"`
	Serial       string `json:"serial"`
	Hardware     string `json:"hardware"`
}

// sourceJSON is one channel's video source as read over ONVIF.
type sourceJSON struct {
	Channel      int    `json:"channel"`
	VideoSource  string `json:"video_source"`
	Profile      string `json:"profile"`
	StreamURL    string `json:"stream_url"`
	SubProfile   string `json:"sub_profile,omitempty"`
	SubStreamURL string `json:"sub_stream_url,omitempty"`
	SnapshotURL  string `json:"snapshot_url,omitempty"`
	PTZ          bool   `json:"ptz"`
	Width        uint32 `json:"width"`
	Height       uint32 `json:"height"`
}

// deviceView is the one function that turns an actor's view into JSON.
func deviceView(v *pb.DeviceView) deviceJSON {
	labels := v.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	status := v.GetStatus()
	if status == "" {
		status = "unknown"
	}
	var camera *cameraJSON
	if i := v.GetInfo(); i != nil {
		camera = &cameraJSON{Manufacturer: i.GetManufacturer(), Model: i.GetModel(), Firmware: i.GetFirmware(), Serial: i.GetSerial(), Hardware: i.GetHardware()}
	}
	var sources []sourceJSON
	for i, src := range v.GetSources() {
		sources = append(sources, sourceJSON{Channel: i + 1, VideoSource: src.GetVideoSource(), Profile: src.GetProfile(),
			StreamURL: src.GetStreamUrl(), SubProfile: src.GetSubProfile(), SubStreamURL: src.GetSubStreamUrl(),
			SnapshotURL: src.GetSnapshotUrl(), PTZ: src.GetPtz(), Width: src.GetWidth(), Height: src.GetHeight()})
	}
	return deviceJSON{
		ID:        v.GetId(),
		Name:      v.GetName(),
		URL:       v.GetUrl(),
		Onvif:     v.GetOnvif(),
		Camera:    camera,
		Sources:   sources,
		Username:  v.GetUsername(),
		Channels:  v.GetChannels(),
		Labels:    labels,
		Status:    status,
		Version:   v.GetVersion(),
		CreatedAt: formatUnixMs(v.GetCreatedAtUnixMs()),
		UpdatedAt: formatUnixMs(v.GetUpdatedAtUnixMs()),
	}
}

// timeLayout is RFC 3339 with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func formatUnixMs(ms int64) string { return formatTime(time.UnixMilli(ms)) }

// etag is the strong entity tag of a version.
func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }
