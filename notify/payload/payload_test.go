package payload

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

func TestFromEventDeviceRedactsSecrets(t *testing.T) {
	env := &pb.Envelope{Payload: &pb.Envelope_DeviceRegistered{DeviceRegistered: &pb.DeviceRegistered{
		Name: "gate", SealedPassword: []byte("sealed-secret")}}}
	events.Stamp(env, events.Ref{Kind: events.KindDevice, ID: "cam-1"}, 1, "n1", nil)
	env.TimeUnixMs = time.Date(2025, 3, 4, 5, 6, 7, 120e6, time.UTC).UnixMilli()

	n, err := FromEvent(events.Event{Seq: 42, Envelope: env})
	if err != nil {
		t.Fatal(err)
	}
	if n.ID != env.EventId || n.Type != "device.registered" || n.Seq != 42 || n.Device != "cam-1" ||
		n.Aggregate != "cam-1" || n.Kind != "device" {
		t.Fatalf("notification: %+v", n)
	}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "sealed") || strings.Contains(s, "password") {
		t.Fatalf("secret in %s", s)
	}
	// Milliseconds always three digits, like the replay API.
	if !strings.Contains(s, `"time":"2025-03-04T05:06:07.120Z"`) || !strings.Contains(s, `"name":"gate"`) {
		t.Fatalf("json: %s", s)
	}
	var back Notification
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Time.Equal(n.Time) || back.ID != n.ID || string(back.Data) != string(n.Data) {
		t.Fatalf("round trip: %+v vs %+v", back, n)
	}
}

func TestFromEventFieldsAndDevice(t *testing.T) {
	alarm := &pb.Envelope{Payload: &pb.Envelope_AlarmRaised{AlarmRaised: &pb.AlarmRaised{Device: "cam-1", Channel: 2, Type: "motion", Number: 7}}}
	events.Stamp(alarm, events.Ref{Kind: "alarm", ID: "cam-1~2~motion"}, 3, "n1", nil)
	n, err := FromEvent(events.Event{Seq: 9, Envelope: alarm})
	if err != nil {
		t.Fatal(err)
	}
	if n.Type != "alarm.raised" || n.Device != "cam-1" || n.Aggregate != "cam-1~2~motion" || n.Kind != "alarm" {
		t.Fatalf("alarm: %+v", n)
	}
	// An envelope without a stamped type gets the one its payload implies.
	shard := &pb.Envelope{EventId: "e1", AggregateKind: "shard", AggregateId: "3",
		Payload: &pb.Envelope_ShardAcquired{ShardAcquired: &pb.ShardAcquired{Node: "n1", Shard: 3}}}
	n, err = FromEvent(events.Event{Seq: 1, Envelope: shard})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(n)
	if n.Type != "shard.acquired" || n.Device != "" || strings.Contains(string(b), `"device"`) {
		t.Fatalf("shard: %+v %s", n, b)
	}
	// Empty data is written as {}, never null.
	if b, _ := json.Marshal(Notification{ID: "x"}); !strings.Contains(string(b), `"data":{}`) {
		t.Fatalf("empty data: %s", b)
	}
}

func TestFromEventErrors(t *testing.T) {
	for name, e := range map[string]events.Event{
		"no envelope": {Seq: 1},
		"no id":       {Seq: 1, Envelope: &pb.Envelope{Type: "device.offline"}},
		"no type":     {Seq: 1, Envelope: &pb.Envelope{EventId: "e1"}},
	} {
		if _, err := FromEvent(e); err == nil || !strings.HasPrefix(err.Error(), "payload: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
