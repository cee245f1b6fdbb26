// Package device is the device aggregate: its state folded from events, the
// decisions its commands make, and the hollywood actor that hosts it.
package device

import (
	"maps"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// StatusUnknown is a device's status until a stream pull or probe says more.
const StatusUnknown = "unknown"

// State is one device as its events left it.
type State struct {
	ID             string
	Name           string
	URL            string
	Username       string
	SealedPassword []byte
	Channels       uint32
	Labels         map[string]string
	Onvif          string   `json:",omitempty"` // ONVIF device service URL, without credentials
	Sources        []Source `json:",omitempty"` // per channel, read over ONVIF
	Info           Info
	// CameraStates is the last recorded state of each camera event kind
	// and source ("motion/VideoSource_1"): only changes are recorded.
	CameraStates map[string]bool `json:",omitempty"`
	// CameraOn is the camera event that turned each kind and source on
	// while it is still on: a node that takes the device over raises its
	// alarm again (the slot drops a trigger it already has), so an alarm
	// lost with a node that died after the fact is raised all the same.
	CameraOn map[string]CameraTrigger `json:",omitempty"`
	// Motion is each channel's motion detection settings (enabled or not).
	Motion     map[uint32]*pb.DeviceMotionSet `json:",omitempty"`
	Status     string
	StatusAt   int64  `json:",omitempty"` // unix ms of the last status change
	Version    uint64 // number of events of the aggregate
	LastSeq    uint64 // stream sequence of the last event (expected seq of the next append)
	CreatedAt  int64  // unix ms
	UpdatedAt  int64
	Registered bool // registered and not removed since
}

// Apply folds one event into the state. It never fails: the log is the truth.
// CameraTrigger is a camera event that raised (or should have raised) an
// alarm.
type CameraTrigger struct {
	Event, Kind, Topic string
	Channel            uint32
	AtUnixMs           int64
}

// AppliedSeq is the log sequence of the last event folded in.
func (s *State) AppliedSeq() uint64 { return s.LastSeq }

func (s *State) Apply(e events.Event) {
	env := e.Envelope
	s.ID = env.AggregateId
	s.Version = env.Version
	s.LastSeq = e.Seq
	s.UpdatedAt = env.TimeUnixMs
	switch p := env.Payload.(type) {
	case *pb.Envelope_DeviceRegistered:
		r := p.DeviceRegistered
		s.Name, s.URL, s.Username, s.SealedPassword = r.Name, r.Url, r.Username, r.SealedPassword
		s.Channels = r.Channels
		s.Labels = maps.Clone(r.Labels)
		s.Onvif, s.Sources, s.Info = r.Onvif, sourcesFromPB(r.Sources), infoFromPB(r.Info)
		s.Status = StatusUnknown
		s.Motion = nil
		s.CreatedAt = env.TimeUnixMs
		s.Registered = true
	case *pb.Envelope_DeviceUpdated:
		u := p.DeviceUpdated
		if u.Name != nil {
			s.Name = *u.Name
		}
		if u.Url != nil {
			s.URL = *u.Url
		}
		if u.Channels != nil {
			s.Channels = *u.Channels
		}
		if u.Labels != nil {
			s.Labels = maps.Clone(u.Labels.Labels)
		}
		if u.Credentials != nil {
			s.Username, s.SealedPassword = u.Credentials.Username, u.Credentials.SealedPassword
		}
	case *pb.Envelope_DeviceCredentialsChanged:
		s.Username = p.DeviceCredentialsChanged.Username
		s.SealedPassword = p.DeviceCredentialsChanged.SealedPassword
	case *pb.Envelope_DeviceOnvifRefreshed:
		r := p.DeviceOnvifRefreshed
		s.Sources, s.Info = sourcesFromPB(r.Sources), infoFromPB(r.Info)
		if r.Channels > 0 {
			s.Channels = r.Channels
		}
	case *pb.Envelope_DeviceCameraEvent:
		if r := p.DeviceCameraEvent; r.State != nil {
			states := maps.Clone(s.CameraStates) // views and snapshots share the old map
			if states == nil {
				states = map[string]bool{}
			}
			key := cameraStateKey(r.Kind, r.Source)
			states[key] = *r.State
			s.CameraStates = states
			on := maps.Clone(s.CameraOn)
			if *r.State {
				if on == nil {
					on = map[string]CameraTrigger{}
				}
				on[key] = CameraTrigger{Event: env.EventId, Kind: r.Kind, Channel: r.Channel, Topic: r.Topic, AtUnixMs: r.TimeUnixMs}
			} else {
				delete(on, key)
			}
			s.CameraOn = on
		}
	case *pb.Envelope_DeviceMotionSet:
		m := maps.Clone(s.Motion) // views and snapshots share the old map
		if m == nil {
			m = map[uint32]*pb.DeviceMotionSet{}
		}
		m[p.DeviceMotionSet.Channel] = p.DeviceMotionSet
		s.Motion = m
	case *pb.Envelope_DeviceRemoved:
		s.Registered = false
	case *pb.Envelope_DeviceOnline:
		s.Status, s.StatusAt = StatusOnline, env.TimeUnixMs
	case *pb.Envelope_DeviceOffline:
		s.Status, s.StatusAt = StatusOffline, env.TimeUnixMs
	}
}

// View is the state as the API shows it: no password, ever. The view shares
// the state's label map: Apply replaces that map wholesale and never edits
// it, so views stay immutable; readers must not modify it either.
func (s *State) View() *pb.DeviceView {
	status := s.Status
	if status == "" {
		status = StatusUnknown
	}
	return &pb.DeviceView{
		Id:              s.ID,
		Name:            s.Name,
		Url:             s.URL,
		Username:        s.Username,
		Channels:        s.Channels,
		Labels:          s.Labels,
		Status:          status,
		Version:         s.Version,
		CreatedAtUnixMs: s.CreatedAt,
		UpdatedAtUnixMs: s.UpdatedAt,
		Removed:         !s.Registered,
		LastSeq:         s.LastSeq,
		Onvif:           s.Onvif,
		Sources:         SourcesPB(s.Sources),
		Info:            InfoPB(s.Info),
		Motion:          s.motionList(),
	}
}

// motionList is the channels' motion settings in channel order.
func (s *State) motionList() []*pb.DeviceMotionSet {
	var out []*pb.DeviceMotionSet
	for ch := uint32(1); ch <= s.Channels; ch++ {
		if m := s.Motion[ch]; m != nil {
			out = append(out, m)
		}
	}
	return out
}
