package device

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/events/pb"
)

// Device status: unknown until the first probe or pull says more, then a
// state machine online ⇄ offline whose every transition is an event.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// ProbeFunc checks one camera (an RTSP DESCRIBE with its credentials).
type ProbeFunc func(ctx context.Context, url, username, password string) error

// Probe asks a device actor to check its camera now. The host's prober sends
// it to every device once per probe interval.
type Probe struct{}

// PullUp and PullDown are reported by the device's stream actors: a pull
// that connects proves the camera is up; one that drops asks for a probe.
type (
	PullUp   struct{}
	PullDown struct{}
)

// probeDone is the outcome of a probe, sent back to the actor.
type probeDone struct{ err error }

// startProbe runs one probe off the actor's goroutine (bounded node-wide by
// Deps.ProbeSlots) and reports back with probeDone.
func (a *Actor) startProbe(c *actor.Context) {
	if a.probing || !a.state.Registered || a.deps.Probe == nil {
		return
	}
	password, err := a.deps.Sealer.Open(a.state.SealedPassword)
	if err != nil {
		a.log().Warn("cannot open the device's password", "device", a.ref.ID, "err", err)
		return
	}
	a.probing = true
	url, user, probe, slots := ChannelURL(a.state.URL, a.state.Sources, 1), a.state.Username, a.deps.Probe, a.deps.ProbeSlots
	self, engine := c.PID(), c.Engine()
	go func() {
		if slots != nil {
			slots <- struct{}{}
			defer func() { <-slots }()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := probe(ctx, url, user, password)
		if err != nil {
			err = scrubbed(err, password)
		}
		engine.Send(self, probeDone{err: err})
	}()
}

// probeIfChanged probes after a command changed what the camera is.
func (a *Actor) probeIfChanged(c *actor.Context) {
	if a.targetChanged {
		a.targetChanged = false
		a.startProbe(c)
	}
}

// setStatus appends DeviceOnline/DeviceOffline when the status changes.
func (a *Actor) setStatus(online bool, detail string) {
	a.handle("status", func() (*pb.Envelope, *Rejection) {
		switch {
		case !a.state.Registered:
			return nil, nil
		case online && a.state.Status != StatusOnline:
			return &pb.Envelope{Payload: &pb.Envelope_DeviceOnline{DeviceOnline: &pb.DeviceOnline{Via: detail}}}, nil
		case !online && a.state.Status != StatusOffline:
			return &pb.Envelope{Payload: &pb.Envelope_DeviceOffline{DeviceOffline: &pb.DeviceOffline{Reason: detail}}}, nil
		}
		return nil, nil
	}, nil)
}

// scrubbedError carries an error's text with the password removed: client
// errors may quote URLs, and this text goes into events and logs.
type scrubbedError struct{ msg string }

func (e scrubbedError) Error() string { return e.msg }

func scrubbed(err error, password string) error {
	msg := err.Error()
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "***")
	}
	return scrubbedError{msg: msg}
}

// ErrNotHere: the device is hosted by another node (its shard is active
// there), so this node cannot talk to its camera for it.
var ErrNotHere = errors.New("device: hosted by another node")

// Target asks a device actor, locally, for what a pull of one of its
// channels needs. The password is opened here and travels only in-process.
type Target struct{ Reply chan TargetInfo }

// TargetInfo answers Target. Found is false for a removed or unknown device.
type TargetInfo struct {
	Found              bool
	URL                string // may hold "{channel}", replaced per channel
	Onvif              string // ONVIF device service, "" = none
	Sources            []Source
	Username, Password string
	Channels           int
}

// ChannelURL is the URL channel ch is pulled from (see ChannelURL).
func (t TargetInfo) ChannelURL(ch int) string { return ChannelURL(t.URL, t.Sources, ch) }

func (a *Actor) target() TargetInfo {
	if !a.state.Registered {
		return TargetInfo{}
	}
	password, err := a.deps.Sealer.Open(a.state.SealedPassword)
	if err != nil {
		a.log().Warn("cannot open the device's password", "device", a.ref.ID, "err", err)
	}
	return TargetInfo{Found: true, URL: a.state.URL, Onvif: a.state.Onvif, Sources: a.state.Sources, Username: a.state.Username, Password: password, Channels: int(a.state.Channels)}
}
