package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// fakeDemoHost keeps devices and plans in maps and counts the writes.
type fakeDemoHost struct {
	mu        sync.Mutex
	devices   map[string]*pb.DeviceView
	plans     map[string]*pb.SetPlan
	registers int
	updates   int
}

func newFakeDemoHost() *fakeDemoHost {
	return &fakeDemoHost{devices: map[string]*pb.DeviceView{}, plans: map[string]*pb.SetPlan{}}
}

func (h *fakeDemoHost) Ask(_ context.Context, id string, cmd proto.Message) (*pb.DeviceReply, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.devices[id]
	switch c := cmd.(type) {
	case *pb.GetDevice:
		if d == nil {
			return &pb.DeviceReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND}, nil
		}
		return &pb.DeviceReply{Device: d}, nil
	case *pb.RegisterDevice:
		if d != nil {
			return &pb.DeviceReply{Code: pb.ReplyCode_REPLY_CODE_ALREADY_EXISTS}, nil
		}
		h.registers++
		h.devices[id] = &pb.DeviceView{Id: id, Name: c.Name, Url: c.Url, Channels: c.Channels, Labels: c.Labels}
		return &pb.DeviceReply{Device: h.devices[id]}, nil
	case *pb.UpdateDevice:
		if d == nil {
			return &pb.DeviceReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND}, nil
		}
		h.updates++
		d.Url = c.GetUrl()
		return &pb.DeviceReply{Device: d}, nil
	}
	return &pb.DeviceReply{Code: pb.ReplyCode_REPLY_CODE_INVALID}, nil
}

func (h *fakeDemoHost) AskPlan(_ context.Context, id string, _ int, cmd proto.Message) (*pb.PlanReply, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.devices[id] == nil {
		return &pb.PlanReply{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND}, nil
	}
	h.plans[id] = cmd.(*pb.SetPlan)
	return &pb.PlanReply{}, nil
}

func (h *fakeDemoHost) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.devices, id)
}

// stubCam holds a TCP port like a camera.
type stubCam struct{ ln net.Listener }

func (c *stubCam) URL(path string) string { return "rtsp://" + c.ln.Addr().String() + "/" + path }
func (c *stubCam) Addr() string           { return c.ln.Addr().String() }
func (c *stubCam) Close()                 { c.ln.Close() }

func startStub(_ context.Context, listen string) (demoCam, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	return &stubCam{ln}, nil
}

func runTestDemo(t *testing.T, h *fakeDemoHost, dir string, count int) *demo {
	t.Helper()
	d := newDemo(h, dir, slog.New(slog.NewTextHandler(io.Discard, nil)), startStub)
	if err := d.run(context.Background(), count); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func TestDemoRegistersOnce(t *testing.T) {
	demoWatchInterval = 20 * time.Millisecond
	h := newFakeDemoHost()
	// A device of the user's with a demo id is left alone.
	h.devices["demo-3"] = &pb.DeviceView{Id: "demo-3", Name: "mine", Url: "rtsp://10.0.0.1/x"}
	dir := t.TempDir()

	d := runTestDemo(t, h, dir, 3)
	if h.registers != 2 {
		t.Fatalf("%d registrations, want 2", h.registers)
	}
	for i := 1; i <= 2; i++ {
		id := demoID(i)
		dv := h.devices[id]
		if dv.Name != "Demo camera "+strconv.Itoa(i) || dv.Labels[demoLabel] != "true" || dv.Channels != 1 {
			t.Errorf("%s: %v", id, dv)
		}
		p := h.plans[id]
		if p == nil || p.Mode != "continuous" || p.SegmentSeconds != demoSegmentSeconds || p.RetentionDays != demoRetentionDays {
			t.Errorf("%s plan: %v", id, p)
		}
		if !d.running(id) {
			t.Errorf("%s camera not running", id)
		}
	}
	if h.devices["demo-3"].Url != "rtsp://10.0.0.1/x" || d.running("demo-3") || h.plans["demo-3"] != nil {
		t.Errorf("the user's demo-3 was touched: %v", h.devices["demo-3"])
	}
	url1 := h.devices["demo-1"].Url

	// Removing a demo device stops its camera.
	h.remove("demo-2")
	deadline := time.Now().Add(5 * time.Second)
	for d.running("demo-2") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if d.running("demo-2") || !d.running("demo-1") {
		t.Fatalf("after removing demo-2: demo-1 running %v, demo-2 running %v", d.running("demo-1"), d.running("demo-2"))
	}
	d.Close()

	// A restart registers nothing, keeps the URL (same port) and does not
	// bring the removed one back.
	d = runTestDemo(t, h, dir, 3)
	if h.registers != 2 || h.updates != 0 || h.devices["demo-2"] != nil {
		t.Fatalf("restart: %d registrations, %d updates, demo-2 %v", h.registers, h.updates, h.devices["demo-2"])
	}
	if h.devices["demo-1"].Url != url1 || !d.running("demo-1") {
		t.Fatalf("restart: demo-1 %s (was %s), running %v", h.devices["demo-1"].Url, url1, d.running("demo-1"))
	}
	d.Close()

	// Its old port taken: the camera moves and the device follows.
	u, _ := url.Parse(url1)
	hold, err := net.Listen("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	d = runTestDemo(t, h, dir, 4)
	if h.updates != 1 || h.devices["demo-1"].Url == url1 || h.registers != 3 || !d.running("demo-4") {
		t.Fatalf("moved port: %d updates, url %s, %d registrations", h.updates, h.devices["demo-1"].Url, h.registers)
	}
	s, err := loadDemoState(d.path)
	if err != nil || len(s.Created) != 3 {
		t.Fatalf("state %v %v", s, err)
	}
}

func TestDemoAdoptsUnrecorded(t *testing.T) {
	// Registered, then a crash before demo.json was written: adopted, not
	// registered again.
	h := newFakeDemoHost()
	h.devices["demo-1"] = &pb.DeviceView{Id: "demo-1", Url: "rtsp://127.0.0.1:1/live", Labels: map[string]string{demoLabel: "true"}}
	d := runTestDemo(t, h, t.TempDir(), 1)
	if h.registers != 0 || h.updates != 1 || !d.running("demo-1") {
		t.Fatalf("%d registrations, %d updates, running %v", h.registers, h.updates, d.running("demo-1"))
	}
}

func TestConsoleURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080": "http://localhost:8080/console/",
		"https://10.0.0.5:8443": "https://10.0.0.5:8443/console/",
		"http://[::1]:8080":     "http://localhost:8080/console/",
	} {
		if got := consoleURL(in); got != want {
			t.Errorf("consoleURL(%q) = %q, want %q", in, got, want)
		}
	}
}
