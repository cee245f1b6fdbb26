package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/events/pb"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
)

// `argus dev --demo N`: N fake cameras in the process (the camera of
// `argus fakecam`), each registered once as device demo-<i> with a
// continuous recording plan, so a first start has something to look at.
//
// <data>/demo.json records the ids this data dir created (and the port each
// camera listened on): a restart registers nothing again, and a demo device
// the user removed is not created again.
//
// A removed device stops its camera: a watcher asks each running demo
// device's actor for it (GetDevice, through the host) every
// demoWatchInterval and closes the camera on the first NOT_FOUND. Polling
// the actor needs no log position to resume from and survives NATS
// reconnects and shard handoffs (errors and NOT_OWNER just wait for the next
// round); a handful of in-memory asks a second cost nothing.

const (
	demoFile           = "demo.json"
	demoSegmentSeconds = 10      // a first recording to look at within seconds
	demoRetentionDays  = 1       // the least a plan keeps
	demoBitrate        = 200_000 // 4 cameras × 1 day of retention ≈ 8.6 GB
	demoLabel          = "demo"  // label demo=true marks devices this code registered
)

var demoWatchInterval = time.Second

// demoHost is what the demo needs of the node: the shard host's Ask/AskPlan.
type demoHost interface {
	Ask(ctx context.Context, deviceID string, cmd proto.Message) (*pb.DeviceReply, error)
	AskPlan(ctx context.Context, deviceID string, channel int, cmd proto.Message) (*pb.PlanReply, error)
}

// demoCam is a running camera (a *fakecam.Camera).
type demoCam interface {
	URL(path string) string
	Addr() string
	Close()
}

// demoState is demo.json.
type demoState struct {
	// Created are the devices this data dir's demo registered, by id.
	Created map[string]demoEntry `json:"created"`
}

type demoEntry struct {
	Port int `json:"port"` // the camera's last port, reused on restart so the device's URL stays
}

// demo runs the demo cameras of one dev node.
type demo struct {
	host  demoHost
	log   *slog.Logger
	path  string // demo.json
	start func(ctx context.Context, listen string) (demoCam, error)

	state demoState
	mu    sync.Mutex
	cams  map[string]demoCam // running, by device id
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

// startDemo starts the cameras of demo-1…demo-count, registers those this
// data dir has not created yet, and watches for their removal. Close stops
// it all.
func startDemo(ctx context.Context, host demoHost, count int, dataDir string, log *slog.Logger) (*demo, error) {
	d := newDemo(host, dataDir, log, func(ctx context.Context, listen string) (demoCam, error) {
		return fakecam.Start(ctx, fakecam.Options{Listen: listen, Paths: []string{"live"}, Bitrate: demoBitrate, Log: log})
	})
	if err := d.run(ctx, count); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func newDemo(host demoHost, dataDir string, log *slog.Logger, start func(context.Context, string) (demoCam, error)) *demo {
	return &demo{host: host, log: log.With("component", "demo"), path: filepath.Join(dataDir, demoFile), start: start,
		cams: make(map[string]demoCam)}
}

func demoID(i int) string { return "demo-" + strconv.Itoa(i) }

// run sets up every demo device, then starts the watcher.
func (d *demo) run(ctx context.Context, count int) error {
	if count < 0 || count > 64 {
		return fmt.Errorf("--demo must be 0..64, not %d", count)
	}
	var err error
	if d.state, err = loadDemoState(d.path); err != nil {
		return err
	}
	for i := 1; i <= count; i++ {
		if err := d.setup(ctx, i); err != nil {
			if ctx.Err() != nil || errors.Is(err, fakecam.ErrNoFFmpeg) {
				return fmt.Errorf("demo device %s: %w", demoID(i), err)
			}
			d.log.Error("demo device not set up", "device", demoID(i), "err", err) // the others still are
		}
	}
	wctx, cancel := context.WithCancel(context.Background())
	d.stop = cancel
	d.wg.Add(1)
	go d.watch(wctx)
	d.log.Info("demo cameras running", "count", len(d.cams), "state", d.path)
	return nil
}

// setup makes demo-i run: its camera, and the device when this data dir
// never created it.
func (d *demo) setup(ctx context.Context, i int) error {
	id := demoID(i)
	r, err := d.ask(ctx, id, &pb.GetDevice{Id: id})
	if err != nil {
		return err
	}
	entry, created := d.state.Created[id]
	exists := r.GetCode() == pb.ReplyCode_REPLY_CODE_OK
	switch {
	case created && !exists:
		d.log.Info("demo device was removed; not creating it again", "device", id)
		return nil
	case !exists && r.GetCode() != pb.ReplyCode_REPLY_CODE_NOT_FOUND:
		return fmt.Errorf("get: %s %s", r.GetCode(), r.GetDetail())
	case exists && !created && r.GetDevice().GetLabels()[demoLabel] != "true":
		d.log.Warn("a device that is not a demo one has the demo id; leaving it alone", "device", id)
		return nil
	}
	// (Exists, not recorded, labelled demo: registered just before a crash
	// kept demo.json from being written; adopted.)

	cam, err := d.listen(ctx, entry.Port)
	if err != nil {
		return err
	}
	camURL := cam.URL("live")
	keep := false
	defer func() {
		if !keep {
			cam.Close()
		}
	}()
	if !exists {
		r, err := d.ask(ctx, id, &pb.RegisterDevice{Meta: demoMeta(), Id: id, Name: fmt.Sprintf("Demo camera %d", i), Url: camURL,
			Channels: 1, Labels: map[string]string{demoLabel: "true"}})
		if err != nil {
			return err
		}
		if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
			return fmt.Errorf("register: %s %s", r.GetCode(), r.GetDetail())
		}
		if err := d.record(id, cam); err != nil {
			return err
		}
		pr, err := d.askPlan(ctx, id, &pb.SetPlan{Meta: demoMeta(), Device: id, Channel: 1, Mode: "continuous",
			SegmentSeconds: demoSegmentSeconds, RetentionDays: demoRetentionDays})
		if err == nil && pr.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
			err = fmt.Errorf("%s %s", pr.GetCode(), pr.GetDetail())
		}
		if err != nil {
			d.log.Warn("demo device registered without its recording plan", "device", id, "err", err)
		}
		d.log.Info("demo device registered", "device", id, "url", camURL)
	} else {
		if r.GetDevice().GetUrl() != camURL {
			// The camera could not get its old port back.
			r, err := d.ask(ctx, id, &pb.UpdateDevice{Meta: demoMeta(), Id: id, Url: &camURL})
			if err != nil {
				return err
			}
			if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
				return fmt.Errorf("update url: %s %s", r.GetCode(), r.GetDetail())
			}
		}
		if err := d.record(id, cam); err != nil {
			return err
		}
	}
	keep = true
	d.mu.Lock()
	d.cams[id] = cam
	d.mu.Unlock()
	return nil
}

// listen starts a camera on loopback, on port when it is still free, else
// on a free one.
func (d *demo) listen(ctx context.Context, port int) (demoCam, error) {
	if port > 0 {
		cam, err := d.start(ctx, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return cam, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		d.log.Info("demo camera's old port is taken; using another", "port", port, "err", err)
	}
	return d.start(ctx, "127.0.0.1:0")
}

// record notes id as created by this data dir, with its camera's port.
func (d *demo) record(id string, cam demoCam) error {
	_, p, _ := net.SplitHostPort(cam.Addr())
	port, _ := strconv.Atoi(p)
	if e, ok := d.state.Created[id]; ok && e.Port == port {
		return nil
	}
	if d.state.Created == nil {
		d.state.Created = make(map[string]demoEntry)
	}
	d.state.Created[id] = demoEntry{Port: port}
	return saveDemoState(d.path, d.state)
}

// watch closes the camera of each demo device that no longer exists.
func (d *demo) watch(ctx context.Context) {
	defer d.wg.Done()
	t := time.NewTicker(demoWatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		ids := make([]string, 0, len(d.cams))
		for id := range d.cams {
			ids = append(ids, id)
		}
		d.mu.Unlock()
		for _, id := range ids {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			r, err := d.host.Ask(actx, id, &pb.GetDevice{Id: id})
			cancel()
			if err != nil || r.GetCode() != pb.ReplyCode_REPLY_CODE_NOT_FOUND {
				continue // there, or no answer this round
			}
			d.mu.Lock()
			cam := d.cams[id]
			delete(d.cams, id)
			d.mu.Unlock()
			if cam != nil {
				cam.Close()
				d.log.Info("demo device removed; its camera stopped", "device", id)
			}
		}
	}
}

// Close stops the watcher and every camera.
func (d *demo) Close() {
	if d.stop != nil {
		d.stop()
	}
	d.wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, cam := range d.cams {
		cam.Close()
		delete(d.cams, id)
	}
}

// running reports whether id's camera runs (tests).
func (d *demo) running(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cams[id] != nil
}

func demoMeta() *pb.CommandMeta { return &pb.CommandMeta{CommandId: uuid.NewString()} }

// ask asks the device's actor, retrying while there is no answer or the
// shard is moving, for up to 30 s.
func (d *demo) ask(ctx context.Context, id string, cmd proto.Message) (*pb.DeviceReply, error) {
	return demoRetry(ctx, func(ctx context.Context) (*pb.DeviceReply, error) { return d.host.Ask(ctx, id, cmd) },
		func(r *pb.DeviceReply) pb.ReplyCode { return r.GetCode() })
}

func (d *demo) askPlan(ctx context.Context, id string, cmd proto.Message) (*pb.PlanReply, error) {
	return demoRetry(ctx, func(ctx context.Context) (*pb.PlanReply, error) { return d.host.AskPlan(ctx, id, 1, cmd) },
		func(r *pb.PlanReply) pb.ReplyCode { return r.GetCode() })
}

func demoRetry[R any](ctx context.Context, do func(context.Context) (R, error), code func(R) pb.ReplyCode) (R, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		r, err := do(actx)
		cancel()
		if err == nil {
			switch code(r) {
			case pb.ReplyCode_REPLY_CODE_NOT_OWNER, pb.ReplyCode_REPLY_CODE_UNAVAILABLE, pb.ReplyCode_REPLY_CODE_CONFLICT:
			default:
				return r, nil
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%s", code(r))
			}
			return r, errors.Join(err, ctx.Err())
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func loadDemoState(path string) (demoState, error) {
	var s demoState
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// saveDemoState writes the file whole (temp file, then rename).
func saveDemoState(path string, s demoState) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// consoleURL is the web console's address from the node's HTTP base
// (http://127.0.0.1:8080 → http://localhost:8080/console/).
func consoleURL(httpBase string) string {
	u, err := url.Parse(httpBase)
	if err != nil || u.Host == "" {
		return httpBase + "/console/"
	}
	if h := u.Hostname(); h == "127.0.0.1" || h == "::1" {
		u.Host = net.JoinHostPort("localhost", u.Port())
	}
	u.Path = "/console/"
	return u.String()
}
