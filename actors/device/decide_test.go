package device

import (
	"testing"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

func seal(p string) []byte { return []byte("sealed:" + p) }

func apply(s *State, seq uint64, env *pb.Envelope) {
	env.Version = s.Version + 1
	env.AggregateId = "cam1"
	s.Apply(events.Event{Seq: seq, Envelope: env})
}

func TestDecisions(t *testing.T) {
	var s State
	if _, rej := DecideUpdate(&s, &pb.UpdateDevice{Id: "cam1"}, seal); rej == nil || rej.Code != pb.ReplyCode_REPLY_CODE_NOT_FOUND {
		t.Fatalf("update before register: %v", rej)
	}
	for _, c := range []struct {
		cmd   *pb.RegisterDevice
		field string
	}{
		{&pb.RegisterDevice{Url: "rtsp://h/s"}, "name"},
		{&pb.RegisterDevice{Name: "n", Url: "http://h/s"}, "url"},
		{&pb.RegisterDevice{Name: "n", Url: "rtsp://u:p@h/s"}, "url"},
		{&pb.RegisterDevice{Name: "n", Url: "rtsp://h/s", Channels: 65}, "channels"},
		{&pb.RegisterDevice{Name: "n", Url: "rtsp://h/s", Labels: map[string]string{"bad key": "v"}}, "labels"},
	} {
		if _, rej := DecideRegister(&s, c.cmd, seal); rej == nil || rej.Field != c.field {
			t.Errorf("%+v: %v, want field %s", c.cmd, rej, c.field)
		}
	}
	reg, rej := DecideRegister(&s, &pb.RegisterDevice{Id: "cam1", Name: "n", Url: "rtsp://h/s", Password: "pw"}, seal)
	if rej != nil || reg.Channels != 1 || string(reg.SealedPassword) != "sealed:pw" {
		t.Fatalf("register: %v %v", reg, rej)
	}
	apply(&s, 10, &pb.Envelope{Payload: &pb.Envelope_DeviceRegistered{DeviceRegistered: reg}})
	if _, rej := DecideRegister(&s, &pb.RegisterDevice{Id: "cam1", Name: "n", Url: "rtsp://h/s"}, seal); rej == nil || rej.Code != pb.ReplyCode_REPLY_CODE_ALREADY_EXISTS {
		t.Fatalf("second register: %v", rej)
	}

	// No change → no event.
	name := "n"
	if env, rej := DecideUpdate(&s, &pb.UpdateDevice{Name: &name}, seal); env != nil || rej != nil {
		t.Fatalf("no-op update: %v %v", env, rej)
	}
	// Credentials only → credentials_changed; with fields → one updated event.
	pw := "new"
	env, _ := DecideUpdate(&s, &pb.UpdateDevice{Password: &pw}, seal)
	if env.GetDeviceCredentialsChanged() == nil {
		t.Fatalf("credentials only: %v", env)
	}
	name = "m"
	env, _ = DecideUpdate(&s, &pb.UpdateDevice{Name: &name, Password: &pw}, seal)
	if u := env.GetDeviceUpdated(); u == nil || u.Credentials == nil || u.GetName() != "m" {
		t.Fatalf("fields + credentials: %v", env)
	}
	apply(&s, 11, env)
	if s.Name != "m" || string(s.SealedPassword) != "sealed:new" || s.Version != 2 || s.LastSeq != 11 {
		t.Fatalf("state %+v", s)
	}
	// If-Match.
	stale := uint64(1)
	name = "z"
	if _, rej := DecideUpdate(&s, &pb.UpdateDevice{Meta: &pb.CommandMeta{ExpectedVersion: &stale}, Name: &name}, seal); rej == nil || rej.Code != pb.ReplyCode_REPLY_CODE_PRECONDITION_FAILED {
		t.Fatalf("stale If-Match: %v", rej)
	}
	// Labels merge.
	env, _ = DecideUpdate(&s, &pb.UpdateDevice{Labels: &pb.LabelPatch{Set: map[string]string{"a": "1", "b": "2"}}}, seal)
	apply(&s, 12, env)
	env, _ = DecideUpdate(&s, &pb.UpdateDevice{Labels: &pb.LabelPatch{Remove: []string{"a"}, Set: map[string]string{"c": "3"}}}, seal)
	apply(&s, 13, env)
	if len(s.Labels) != 2 || s.Labels["b"] != "2" || s.Labels["c"] != "3" {
		t.Fatalf("labels %v", s.Labels)
	}
	rm, rej := DecideRemove(&s, &pb.RemoveDevice{})
	if rej != nil {
		t.Fatal(rej)
	}
	apply(&s, 14, &pb.Envelope{Payload: &pb.Envelope_DeviceRemoved{DeviceRemoved: rm}})
	if s.Registered || !s.View().Removed {
		t.Fatal("still registered after remove")
	}
	if _, rej := DecideRemove(&s, &pb.RemoveDevice{}); rej == nil || rej.Code != pb.ReplyCode_REPLY_CODE_NOT_FOUND {
		t.Fatalf("remove twice: %v", rej)
	}
	// The view never carries a password.
	if v := s.View(); v.String() == "" || containsSealed(v.String()) {
		t.Fatalf("view %v", v)
	}
}

func containsSealed(s string) bool {
	for i := 0; i+6 <= len(s); i++ {
		if s[i:i+6] == "sealed" {
			return true
		}
	}
	return false
}

func TestDirectoryList(t *testing.T) {
	d := NewDirectory()
	for _, id := range []string{"c", "a", "e", "b", "d"} {
		d.Put(&pb.DeviceView{Id: id, Labels: map[string]string{"odd": map[bool]string{true: "y", false: "n"}[id == "a" || id == "c" || id == "e"]}})
	}
	items, next := d.List(2, &pb.ListDevices{})
	if len(items) != 2 || items[0].Id != "a" || next != "b" {
		t.Fatalf("page 1: %v %q", items, next)
	}
	items, next = d.List(2, &pb.ListDevices{Cursor: next})
	if len(items) != 2 || items[0].Id != "c" || next != "d" {
		t.Fatalf("page 2: %v %q", items, next)
	}
	items, next = d.List(2, &pb.ListDevices{Cursor: next})
	if len(items) != 1 || next != "" {
		t.Fatalf("page 3: %v %q", items, next)
	}
	d.Put(&pb.DeviceView{Id: "c", Removed: true})
	items, _ = d.List(10, &pb.ListDevices{LabelKey: "odd", LabelValue: "y"})
	if len(items) != 2 || items[0].Id != "a" || items[1].Id != "e" {
		t.Fatalf("label filter after remove: %v", items)
	}
}
