package webhook

import (
	"testing"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/notify/webhook"
)

func TestDecisions(t *testing.T) {
	seal := func(s string) []byte { return []byte("sealed:" + s) }
	s := &State{}
	ok := &pb.CreateWebhook{Url: "https://example.com/hook", Events: []string{"alarm.*"}, Secret: webhook.NewSecret()}
	for _, bad := range []struct {
		m            *pb.CreateWebhook
		allowPrivate bool
		field        string
	}{
		{&pb.CreateWebhook{Url: "http://127.0.0.1/x", Events: []string{"*"}, Secret: ok.Secret}, false, "url"},
		{&pb.CreateWebhook{Url: ok.Url, Events: nil, Secret: ok.Secret}, false, "events"},
		{&pb.CreateWebhook{Url: ok.Url, Events: []string{"Alarm.*"}, Secret: ok.Secret}, false, "events"},
		{&pb.CreateWebhook{Url: ok.Url, Events: []string{"*"}, Secret: "x"}, false, "secret"},
		{&pb.CreateWebhook{Url: ok.Url, Events: []string{"*"}, Secret: ok.Secret, Concurrency: 65}, false, "concurrency"},
	} {
		if _, rej := DecideCreate(s, bad.m, bad.allowPrivate, seal); rej == nil || rej.Field != bad.field {
			t.Errorf("%+v: %v, want field %s", bad.m, rej, bad.field)
		}
	}
	if _, rej := DecideCreate(s, &pb.CreateWebhook{Url: "http://127.0.0.1/x", Events: []string{"*"}, Secret: ok.Secret}, true, seal); rej != nil {
		t.Fatalf("private target with the flag: %v", rej)
	}
	env, rej := DecideCreate(s, ok, false, seal)
	if rej != nil {
		t.Fatal(rej)
	}
	if string(env.GetWebhookCreated().SealedSecret) != "sealed:"+ok.Secret {
		t.Fatal("the secret is sealed")
	}
	env.AggregateId, env.Version = "wh", 1
	s.Apply(events.Event{Seq: 5, Envelope: env})
	if !s.Registered || !s.Enabled || s.CreatedSeq != 5 || s.View("n1").Concurrency != DefaultConcurrency {
		t.Fatalf("created: %+v", s)
	}
	if _, rej := DecideCreate(s, ok, false, seal); rej == nil || rej.Code != pb.ReplyCode_REPLY_CODE_ALREADY_EXISTS {
		t.Fatalf("again: %v", rej)
	}
	if env, rej := DecideUpdate(s, &pb.UpdateWebhook{Url: &ok.Url}, false); env != nil || rej != nil {
		t.Fatal("an update that changes nothing records nothing")
	}
	gone := DecideGone(s, 410)
	gone.AggregateId, gone.Version = "wh", 2
	s.Apply(events.Event{Seq: 6, Envelope: gone})
	if s.Enabled || s.DisabledReason == "" || DecideGone(s, 410) != nil {
		t.Fatalf("after a 410: %+v", s)
	}
	on := true
	env, _ = DecideUpdate(s, &pb.UpdateWebhook{Enabled: &on}, false)
	env.AggregateId, env.Version = "wh", 3
	s.Apply(events.Event{Seq: 7, Envelope: env})
	if !s.Enabled || s.DisabledReason != "" {
		t.Fatalf("enabled again: %+v", s)
	}
	if _, rej := DecideReplay(s, &pb.ReplayWebhook{}); rej == nil || rej.Field != "from_seq" {
		t.Fatalf("replay from 0: %v", rej)
	}
}
