package shard

import (
	"context"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats.go/jetstream"
)

// An alarm's life in its slot: raised, repeated, ended, acknowledged,
// cleared; the next trigger raises the slot's next alarm; the state
// survives a restart (from the log, and from shard snapshots with the
// covered history purged).
func TestAlarmLifecycle(t *testing.T) {
	srv := testenv.NewNATS(t)
	ctx := context.Background()
	h, deps := startHostWith(t, srv.ClientURL(), true)
	if r, _ := h.Ask(ctx, "cam1", &pb.RegisterDevice{Id: "cam1", Name: "Gate", Url: "rtsp://h/s", Channels: 2}); r.Code != 0 {
		t.Fatal(r)
	}
	raise := &pb.RaiseAlarm{Device: "cam1", Channel: 1, Type: "motion", Source: "camera", Message: "m1"}
	r, _ := h.AskAlarm(ctx, raise)
	if r.Code != 0 || r.Alarm.Id != "cam1~1~motion~1" || r.Alarm.State != "raised" || r.Alarm.Count != 1 || r.Alarm.Severity != "minor" || !r.Alarm.Active {
		t.Fatalf("raise: %v", r)
	}
	r, _ = h.AskAlarm(ctx, &pb.RaiseAlarm{Device: "cam1", Channel: 1, Type: "motion", Source: "camera", Severity: "major"})
	if r.Code != 0 || r.Alarm.Id != "cam1~1~motion~1" || r.Alarm.Count != 2 || r.Alarm.Severity != "major" {
		t.Fatalf("repeat: %v", r)
	}
	if r, _ = h.AskAlarm(ctx, &pb.EndAlarm{Slot: "cam1~1~motion"}); r.Code != 0 || r.Alarm.Active || r.Alarm.State != "raised" {
		t.Fatalf("end: %v", r)
	}
	// Unknown device, channel, alarm; a bad field.
	if r, _ = h.AskAlarm(ctx, &pb.RaiseAlarm{Device: "nope", Type: "motion", Source: "api"}); r.Code != pb.ReplyCode_REPLY_CODE_NOT_FOUND || r.Field != "device" {
		t.Fatalf("unknown device: %v", r)
	}
	if r, _ = h.AskAlarm(ctx, &pb.RaiseAlarm{Device: "cam1", Channel: 3, Type: "motion", Source: "api"}); r.Code != pb.ReplyCode_REPLY_CODE_NOT_FOUND || r.Field != "channel" {
		t.Fatalf("unknown channel: %v", r)
	}
	if r, _ = h.AskAlarm(ctx, &pb.RaiseAlarm{Device: "cam1", Type: "motion", Source: "api", Severity: "huge"}); r.Code != pb.ReplyCode_REPLY_CODE_INVALID || r.Field != "severity" {
		t.Fatalf("bad severity: %v", r)
	}
	if r, _ = h.AskAlarm(ctx, &pb.GetAlarm{Id: "cam1~1~motion~9"}); r.Code != pb.ReplyCode_REPLY_CODE_NOT_FOUND {
		t.Fatalf("unknown alarm: %v", r)
	}
	if r, _ = h.AskAlarm(ctx, &pb.GetAlarm{Id: "cam1~2~tamper~1"}); r.Code != pb.ReplyCode_REPLY_CODE_NOT_FOUND {
		t.Fatalf("alarm of a quiet slot: %v", r)
	}
	if items, err := h.ListAlarms(ctx, &pb.ListAlarms{}); err != nil || len(items) != 1 || items[0].Id != "cam1~1~motion~1" {
		t.Fatalf("open alarms: %v %v", items, err)
	}
	if r, _ = h.AskAlarm(ctx, &pb.AckAlarm{Id: "cam1~1~motion~1", By: "k1", Note: "seen"}); r.Code != 0 || r.Alarm.State != "acknowledged" || r.Alarm.AckedBy != "k1" {
		t.Fatalf("ack: %v", r)
	}
	if r, _ = h.AskAlarm(ctx, &pb.ClearAlarm{Id: "cam1~1~motion~1", By: "k1"}); r.Code != 0 || r.Alarm.State != "cleared" || r.Alarm.ClearedBy != "k1" {
		t.Fatalf("clear: %v", r)
	}
	if r, _ = h.AskAlarm(ctx, &pb.AckAlarm{Id: "cam1~1~motion~1", By: "k1"}); r.Code != pb.ReplyCode_REPLY_CODE_CONFLICT {
		t.Fatalf("ack after clear: %v", r)
	}
	if items, _ := h.ListAlarms(ctx, &pb.ListAlarms{}); len(items) != 0 {
		t.Fatalf("open alarms after the clear: %v", items)
	}
	if r, _ = h.AskAlarm(ctx, raise); r.Code != 0 || r.Alarm.Id != "cam1~1~motion~2" || r.Alarm.Count != 1 {
		t.Fatalf("raise after clear: %v", r)
	}
	// System conditions are one alarm while they hold.
	sys := &pb.RaiseAlarm{Device: "cam1", Type: "offline", Source: "system"}
	h.AskAlarm(ctx, sys)
	if r, _ = h.AskAlarm(ctx, sys); r.Code != 0 || r.Alarm.Count != 1 || r.Alarm.Severity != "major" {
		t.Fatalf("system alarm raised twice: %v", r)
	}
	if r, _ = h.AskAlarm(ctx, &pb.EndAlarm{Slot: "cam1~0~offline", Clear: true, Reason: "back online"}); r.Code != 0 || r.Alarm.State != "cleared" || r.Alarm.ClearedBy != "system" {
		t.Fatalf("system clear: %v", r)
	}

	check := func(h *Host) {
		t.Helper()
		r, _ := h.AskAlarm(ctx, &pb.GetAlarm{Id: "cam1~1~motion~2"})
		if r.Code != 0 || r.Alarm.State != "raised" {
			t.Fatalf("open alarm after restart: %v", r)
		}
		if items, _ := h.ListAlarms(ctx, &pb.ListAlarms{}); len(items) != 1 || items[0].Id != "cam1~1~motion~2" {
			t.Fatalf("open alarms after restart: %v", items)
		}
		if r, _ = h.AskAlarm(ctx, &pb.GetAlarm{Id: "cam1~0~offline~1"}); r.Code != 0 || r.Alarm.State != "cleared" {
			t.Fatalf("the quiet slot's last alarm after restart: %v", r)
		}
	}
	h.Stop()
	h2, _ := startHostWith(t, srv.ClientURL(), true)
	check(h2)
	for n := range 8 {
		if err := h2.Snapshot(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	last, _ := deps.Store.LastSeq(ctx)
	h2.Stop()
	if err := deps.Store.Stream().Purge(ctx, jetstream.WithPurgeSequence(last+1)); err != nil {
		t.Fatal(err)
	}
	h3, _ := startHostWith(t, srv.ClientURL(), true)
	check(h3)
	if r, _ = h3.AskAlarm(ctx, &pb.RaiseAlarm{Device: "cam1", Type: "offline", Source: "system"}); r.Code != 0 || r.Alarm.Id != "cam1~0~offline~2" {
		t.Fatalf("next alarm of a slot known from a snapshot: %v", r)
	}
}

// A node that recorded a camera event but died before its alarm: the node
// that activates the device next raises it, once however often the device
// is activated.
func TestCameraAlarmRaisedAfterACrash(t *testing.T) {
	srv := testenv.NewNATS(t)
	ctx := context.Background()
	h, deps := startHost(t, srv.ClientURL())
	r, _ := h.Ask(ctx, "cam2", &pb.RegisterDevice{Id: "cam2", Name: "Door", Url: "rtsp://h/s"})
	if r.Code != 0 {
		t.Fatal(r)
	}
	h.Stop()
	// The fact as the dead node's device actor appended it (version 2).
	on := true
	ref := events.Ref{Shard: events.ShardOf("cam2", 8), Kind: events.KindDevice, ID: "cam2"}
	env := events.Stamp(&pb.Envelope{Payload: &pb.Envelope_DeviceCameraEvent{DeviceCameraEvent: &pb.DeviceCameraEvent{
		Kind: "motion", Source: "vs1", State: &on, Channel: 1, TimeUnixMs: time.Now().UnixMilli()}}}, ref, 2, "dead", nil)
	if _, err := deps.Store.AppendFact(ctx, ref, env); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		h, _ = startHost(t, srv.ClientURL())
		var got []*pb.AlarmView
		testenv.WaitFor(t, 5*time.Second, "the alarm raised", func() bool {
			got, _ = h.ListAlarms(ctx, &pb.ListAlarms{Device: "cam2"})
			return len(got) == 1
		})
		time.Sleep(300 * time.Millisecond) // a second raise would have landed by now
		got, _ = h.ListAlarms(ctx, &pb.ListAlarms{Device: "cam2"})
		if len(got) != 1 || got[0].Id != "cam2~1~motion~1" || got[0].Count != 1 || got[0].Trigger != env.EventId {
			t.Fatalf("round %d: %v", round, got)
		}
		h.Stop()
	}
}
