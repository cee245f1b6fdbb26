package onvif

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSubscribeWithoutAddressPullsAtTheEventService(t *testing.T) {
	cam := newTestCamera(t)
	cam.answer("CreatePullPointSubscription", "create_pull_point_empty_address.xml")
	cam.answer("PullMessages", "pull_messages.xml")
	cam.empty("wsnt:Renew")
	cam.empty("wsnt:Unsubscribe")
	c := connectedClient(t, cam)
	ctx := context.Background()

	pp, err := c.Subscribe(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	create := cam.lastCall("CreatePullPointSubscription")
	if create.path != "/onvif/Events" || !strings.Contains(create.doc, "<tev:InitialTerminationTime>PT60S</tev:InitialTerminationTime>") {
		t.Fatalf("create at %s: %s", create.path, create.doc)
	}
	if create.env.Header.Action != actionCreatePullPoint || create.env.Header.To != cam.srv.URL+"/onvif/Events" {
		t.Fatalf("addressing %+v", create.env.Header)
	}
	if pp.Address() != cam.srv.URL+"/onvif/Events" {
		t.Fatalf("address %s", pp.Address())
	}
	if !pp.TerminationTime().Equal(time.Date(2024, 5, 1, 10, 1, 0, 0, time.UTC)) {
		t.Fatalf("termination %v", pp.TerminationTime())
	}

	got, err := pp.Pull(ctx, 2*time.Second, 10)
	if err != nil {
		t.Fatal(err)
	}
	pull := cam.lastCall("PullMessages")
	if pull.path != "/onvif/Events" || !strings.Contains(pull.doc, "<tev:Timeout>PT2S</tev:Timeout><tev:MessageLimit>10</tev:MessageLimit>") {
		t.Fatalf("pull at %s: %s", pull.path, pull.doc)
	}
	if len(got) != 2 {
		t.Fatalf("%d notifications", len(got))
	}
	motion := got[0]
	if motion.Topic != "tns1:RuleEngine/CellMotionDetector/Motion" || motion.PropertyOperation != "Changed" ||
		!motion.Time.Equal(time.Date(2024, 5, 1, 10, 0, 4, 0, time.UTC)) ||
		motion.Source["Rule"] != "MyMotionDetectorRule" || motion.Source["VideoSourceConfigurationToken"] != "VideoSourceToken" ||
		motion.Data["IsMotion"] != "true" {
		t.Fatalf("motion %+v", motion)
	}
	// Another prefix for the topics' namespace, declared on the topic; a
	// vendor's kept as it is; a time without zone.
	tamper := got[1]
	if tamper.Topic != "tns1:VideoSource/tnsvendor:TamperAlarm" || tamper.PropertyOperation != "Initialized" ||
		!tamper.Time.Equal(time.Date(2024, 5, 1, 10, 0, 5, 250e6, time.UTC)) ||
		tamper.Source["Source"] != "VideoSource_1" || tamper.Data["State"] != "false" {
		t.Fatalf("tamper %+v", tamper)
	}
	if !pp.TerminationTime().Equal(time.Date(2024, 5, 1, 10, 1, 5, 0, time.UTC)) {
		t.Fatalf("termination after pull %v", pp.TerminationTime())
	}

	if err := pp.Renew(ctx, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	renew := cam.lastCall("Renew")
	if !strings.Contains(renew.doc, "<wsnt:TerminationTime>PT90S</wsnt:TerminationTime>") || renew.env.Header.Action != actionRenew {
		t.Fatalf("renew: %s", renew.doc)
	}
	if err := pp.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if u := cam.lastCall("Unsubscribe"); u.path != "/onvif/Events" || u.env.Header.Action != actionUnsubscribe {
		t.Fatalf("unsubscribe %+v", u)
	}
}

func TestSubscriptionReferenceParametersAreEchoed(t *testing.T) {
	cam := newTestCamera(t)
	cam.answer("CreatePullPointSubscription", "create_pull_point_refparams.xml")
	cam.answer("PullMessages", "pull_messages.xml")
	c := connectedClient(t, cam)
	ctx := context.Background()
	pp, err := c.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if doc := cam.lastCall("CreatePullPointSubscription").doc; strings.Contains(doc, "InitialTerminationTime") {
		t.Fatalf("no termination asked, yet: %s", doc)
	}
	// The address said 0.0.0.0.
	if pp.Address() != cam.srv.URL+"/onvif/services" {
		t.Fatalf("address %s", pp.Address())
	}
	if _, err := pp.Pull(ctx, time.Second, 0); err != nil {
		t.Fatal(err)
	}
	pull := cam.lastCall("PullMessages")
	if pull.path != "/onvif/services" || !strings.Contains(pull.doc, `<ns0:SubscriptionId xmlns:ns0="http://www.axis.com/2009/event">uuid-axis-42</ns0:SubscriptionId>`) ||
		!strings.Contains(pull.doc, "<tev:MessageLimit>100</tev:MessageLimit>") {
		t.Fatalf("pull at %s: %s", pull.path, pull.doc)
	}
	if pull.env.Header.To != cam.srv.URL+"/onvif/services" || pull.env.Header.Action != actionPullMessages {
		t.Fatalf("pull addressing %+v", pull.env.Header)
	}
}

func TestPullWaitsLongerThanTimeout(t *testing.T) {
	cam := newTestCamera(t)
	cam.answer("CreatePullPointSubscription", "create_pull_point_empty_address.xml")
	cam.answer("PullMessages", "pull_messages.xml")
	c := newTestClient(t, cam, Options{Timeout: 200 * time.Millisecond})
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	pp, err := c.Subscribe(context.Background(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cam.intercept = func(w http.ResponseWriter, r *http.Request, env *Envelope) bool {
		if env.BodyName.Local == "PullMessages" {
			time.Sleep(400 * time.Millisecond) // a camera holding the pull open
		}
		return false
	}
	if n, err := pp.Pull(context.Background(), time.Second, 5); err != nil || len(n) != 2 {
		t.Fatalf("pull held open: %d %v", len(n), err)
	}
}
