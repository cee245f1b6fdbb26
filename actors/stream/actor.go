// Package stream is the stream actor: one per device channel, in the
// device's shard. It owns the camera pull and the node-local relay stream
// that fans it out, starts on demand, closes when idle, and records each
// session as events (stream.started / stream.failed / stream.stopped).
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/media/pull"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/pion/rtp"
)

// Deps are what every stream actor on a node shares.
type Deps struct {
	Store       *events.Store
	Node        string
	Log         *slog.Logger
	IdleTimeout time.Duration // after the last reader leaves; default 30s
	Transport   string        // camera pull transport: "tcp" (default) | "udp"
	// Device returns the PID of a device's actor on this node (nil if none).
	Device func(deviceID string) *actor.PID
	// Register records how to stop a running pull from outside the actor
	// (the shard's kill switch: a lost lease must stop the camera pull even
	// while this actor waits on the log); the returned func forgets it.
	// nil: not needed.
	Register func(shard int, stop func()) (forget func())
	// OnFenced is called when an append finds that the shard's term ended.
	OnFenced func(events.Term)
}

// Open asks the stream to run and returns its relay stream (the relay then
// waits for the first keyframe). Err when the device or channel does not exist.
type Open struct{ Reply chan OpenResult }

// OpenResult answers Open.
type OpenResult struct {
	Stream *relay.Stream
	Err    error
}

// Hold keeps the session up while a recording needs it (On), whatever the
// readers, or releases that hold (Off; the idle timer then applies).
type Hold struct {
	On    bool
	Reply chan OpenResult
}

// Stop ends the session (device removed, shard lost, shutdown).
type Stop struct{ Reason string }

// GetInfo asks for the stream's state for GET /v1/streams.
type GetInfo struct{ Reply chan Info }

// Info is one active stream.
type Info struct {
	Device      string
	Channel     int
	Node        string
	State       string // "idle" | "starting" | "live" | "retrying"
	Readers     int
	BitrateKbps float64
	Since       time.Time
}

// ErrNoDevice: the device is unknown/removed or has no such channel. It wraps
// relay.ErrNotFound, so RTSP readers get 404.
var ErrNoDevice = fmt.Errorf("stream: no such device channel: %w", relay.ErrNotFound)

// messages from the pull and the relay, delivered into the actor
type (
	pullConnected struct{ gen int }
	pullFailed    struct {
		gen   int
		err   error
		retry time.Duration
	}
	readersChanged struct {
		gen int
		n   int
	}
	idleCheck struct{ gen int }
)

// Actor is one device channel's stream.
type Actor struct {
	deps *Deps
	key  relay.Key
	ref  events.Ref

	w aggregate.Writer // session facts need no history: the last sequence is read before the first append

	gen         int // increments per session; stale callbacks are ignored
	stream      *relay.Stream
	puller      *pull.Puller
	forget      func() // drops this pull from the shard's kill switch
	state       string
	since       time.Time
	readers     int
	peakReaders int
	failing     bool
	idleTimer   *time.Timer
	password    string // to scrub from pull errors before they become events
	held        int    // recordings holding the session open
}

// New returns the producer of a stream actor for device channel key.
func New(deps *Deps, term events.Term, key relay.Key) actor.Producer {
	return func() actor.Receiver {
		a := &Actor{deps: deps, key: key, state: "idle",
			ref: events.Ref{Shard: term.Shard, Kind: events.KindStream, ID: events.ChannelID(key.Device, key.Channel)}}
		a.w = aggregate.Writer{Store: deps.Store, Ref: a.ref, Term: term, Node: deps.Node, OnFenced: deps.OnFenced}
		return a
	}
}

// Receive is the actor's one entry point.
func (a *Actor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		// Nothing that waits on NATS here: hollywood runs Started in the
		// spawner's goroutine (the shard's activation). The writer reads
		// the last sequence before the first append.
	case actor.Stopped:
		a.stop("shutdown")
	case *Open:
		st, err := a.open(c)
		m.Reply <- OpenResult{Stream: st, Err: err}
	case *Hold:
		if m.On {
			st, err := a.open(c)
			if err == nil {
				a.held++
			}
			m.Reply <- OpenResult{Stream: st, Err: err}
			return
		}
		if a.held > 0 {
			a.held--
		}
		if a.held == 0 && a.readers == 0 && a.stream != nil {
			a.armIdle(c)
		}
		m.Reply <- OpenResult{Stream: a.stream}
	case *Stop:
		a.held = 0
		a.stop(m.Reason)
	case *GetInfo:
		m.Reply <- a.info()
	case pullConnected:
		if m.gen == a.gen && a.stream != nil {
			a.connected(c)
		}
	case pullFailed:
		if m.gen == a.gen && a.stream != nil {
			a.failed(c, m.err, m.retry)
		}
	case readersChanged:
		if m.gen == a.gen && a.stream != nil {
			a.readersNow(c, m.n)
		}
	case idleCheck:
		if m.gen == a.gen && a.stream != nil && a.readers == 0 && a.held == 0 {
			a.stop("idle")
		}
	}
}

// open starts the session when none runs: asks the device actor for the
// camera URL and credentials, creates the relay stream and starts the pull.
func (a *Actor) open(c *actor.Context) (*relay.Stream, error) {
	if a.stream != nil {
		return a.stream, nil
	}
	target, err := a.target(c)
	if err != nil {
		return nil, err
	}
	a.gen++
	gen, self, engine := a.gen, c.PID(), c.Engine()
	a.stream = relay.NewStream(a.key)
	a.stream.OnReadersChanged(func(n int) { engine.Send(self, readersChanged{gen: gen, n: n}) })
	a.state, a.since, a.readers, a.peakReaders, a.failing = "starting", time.Now(), 0, 0, false
	a.password = target.Password
	url := target.ChannelURL(a.key.Channel)
	a.puller = pull.Start(pull.Config{
		URL: url, Username: target.Username, Password: target.Password,
		Transport: a.deps.Transport, Log: a.deps.Log,
	}, &pullHandler{stream: a.stream, notify: func(msg any) { engine.Send(self, msg) }, gen: gen})
	if a.deps.Register != nil {
		puller, st := a.puller, a.stream
		a.forget = a.deps.Register(a.ref.Shard, func() { puller.Close(); st.Close() })
	}
	// No reader may ever come (the opener gave up): close when idle.
	a.armIdle(c)
	return a.stream, nil
}

func (a *Actor) target(c *actor.Context) (device.TargetInfo, error) {
	pid := a.deps.Device(a.key.Device)
	if pid == nil {
		return device.TargetInfo{}, ErrNoDevice
	}
	reply := make(chan device.TargetInfo, 1)
	c.Engine().Send(pid, &device.Target{Reply: reply})
	select {
	case t := <-reply:
		if !t.Found || a.key.Channel < 1 || a.key.Channel > t.Channels {
			return t, ErrNoDevice
		}
		return t, nil
	case <-time.After(5 * time.Second):
		return device.TargetInfo{}, errors.New("stream: device actor did not answer")
	}
}

func (a *Actor) connected(c *actor.Context) {
	a.failing = false
	if a.state != "live" {
		a.state = "live"
		a.append(&pb.Envelope{Payload: &pb.Envelope_StreamStarted{StreamStarted: &pb.StreamStarted{
			Device: a.key.Device, Channel: uint32(a.key.Channel), Node: a.deps.Node,
			Transport: a.transport(), Trigger: a.trigger()}}})
	}
	a.notifyDevice(c, device.PullUp{})
}

func (a *Actor) failed(c *actor.Context, err error, retry time.Duration) {
	if a.failing {
		return // one event per failure streak; the pull keeps retrying
	}
	a.failing = true
	a.state = "retrying"
	msg := err.Error()
	if a.password != "" {
		msg = strings.ReplaceAll(msg, a.password, "***")
	}
	a.append(&pb.Envelope{Payload: &pb.Envelope_StreamFailed{StreamFailed: &pb.StreamFailed{
		Error: msg, RetryInMs: retry.Milliseconds()}}})
	a.notifyDevice(c, device.PullDown{})
}

func (a *Actor) readersNow(c *actor.Context, n int) {
	a.readers = n
	a.peakReaders = max(a.peakReaders, n)
	if n == 0 && a.held == 0 {
		a.armIdle(c)
	} else if a.idleTimer != nil {
		a.idleTimer.Stop()
	}
}

func (a *Actor) armIdle(c *actor.Context) {
	if a.idleTimer != nil {
		a.idleTimer.Stop()
	}
	idle := a.deps.IdleTimeout
	if idle <= 0 {
		idle = 30 * time.Second
	}
	gen, self, engine := a.gen, c.PID(), c.Engine()
	a.idleTimer = time.AfterFunc(idle, func() { engine.Send(self, idleCheck{gen: gen}) })
}

// stop ends the session: pull, relay readers, timer; then the event.
func (a *Actor) stop(reason string) {
	if a.stream == nil {
		return
	}
	if a.idleTimer != nil {
		a.idleTimer.Stop()
	}
	if a.forget != nil {
		a.forget()
		a.forget = nil
	}
	a.puller.Close()
	a.stream.Close()
	wasLive := a.state == "live" || a.state == "retrying"
	a.stream, a.puller, a.state = nil, nil, "idle"
	a.gen++
	if wasLive {
		a.append(&pb.Envelope{Payload: &pb.Envelope_StreamStopped{StreamStopped: &pb.StreamStopped{
			Reason: reason, PeakReaders: uint32(a.peakReaders), DurationMs: time.Since(a.since).Milliseconds()}}})
	}
}

func (a *Actor) info() Info {
	i := Info{Device: a.key.Device, Channel: a.key.Channel, Node: a.deps.Node, State: a.state, Readers: a.readers, Since: a.since}
	if a.stream != nil {
		i.BitrateKbps = a.stream.BitrateKbps()
	}
	return i
}

func (a *Actor) trigger() string {
	if a.held > 0 {
		return "recording"
	}
	return "reader"
}

func (a *Actor) transport() string {
	if a.deps.Transport == "udp" {
		return "udp"
	}
	return "tcp"
}

func (a *Actor) notifyDevice(c *actor.Context, msg any) {
	if pid := a.deps.Device(a.key.Device); pid != nil {
		c.Engine().Send(pid, msg)
	}
}

// append records one session fact through the aggregate's loop (facts
// about this node's pull: nothing to decide).
func (a *Actor) append(env *pb.Envelope) {
	if _, err := a.w.Append(context.Background(), env, func(events.Event) {}); err != nil && !errors.Is(err, events.ErrFenced) {
		a.deps.Log.Warn("stream: append failed", "stream", a.ref.ID, "type", env.Type, "err", err)
	}
}

// pullHandler feeds the relay stream from the pull's goroutine and tells the
// actor about connections.
type pullHandler struct {
	stream *relay.Stream
	notify func(any)
	gen    int
}

func (h *pullHandler) OnConnected(desc *description.Session) {
	h.stream.SetSource(desc)
	h.notify(pullConnected{gen: h.gen})
}

func (h *pullHandler) OnPacket(medi *description.Media, pkt *rtp.Packet) {
	h.stream.WritePacket(medi, pkt)
}

func (h *pullHandler) OnDisconnected(err error, retryIn time.Duration) {
	h.stream.SetSource(nil) // new readers wait for the camera instead of a stale GOP
	h.notify(pullFailed{gen: h.gen, err: err, retry: retryIn})
}
