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
	Username  string            `json:"username,omitempty"`
	Channels  uint32            `json:"channels"`
	Labels    map[string]string `json:"labels"`
	Status    string            `json:"status"`
	Version   uint64            `json:"version"`
	CreatedAt string            `json:"created_at"`
	UpdatedAt string            `json:"updated_at"`
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
	return deviceJSON{
		ID:        v.GetId(),
		Name:      v.GetName(),
		URL:       v.GetUrl(),
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
