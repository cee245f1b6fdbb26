package onvifsrv

import (
	"strings"
	"testing"
	"time"
)

// subscribe creates a pull point and returns its address.
func subscribe(t *testing.T, s *Server, ttl string) string {
	t.Helper()
	body := `<tev:CreatePullPointSubscription>`
	if ttl != "" {
		body += `<tev:InitialTerminationTime>` + ttl + `</tev:InitialTerminationTime>`
	}
	resp := mustCall(t, s, auth(s), body+`</tev:CreatePullPointSubscription>`)
	addr := path(resp, "SubscriptionReference", "Address").text()
	if !strings.HasPrefix(addr, "http://"+s.Addr()+"/onvif/subscription/") {
		t.Fatalf("subscription address %q", addr)
	}
	cur, err1 := parseXSDateTime(resp.child("CurrentTime").text())
	end, err2 := parseXSDateTime(resp.child("TerminationTime").text())
	if err1 != nil || err2 != nil || end.Before(cur) {
		t.Fatalf("times %q %q", resp.child("CurrentTime").text(), resp.child("TerminationTime").text())
	}
	return addr
}

// event is one NotificationMessage as read back.
type event struct{ topic, op, source, rule, motion string }

func pull(t *testing.T, s *Server, addr, timeout string, limit int) ([]event, response) {
	t.Helper()
	r := post(t, addr, soapDoc(auth(s), `<tev:PullMessages><tev:Timeout>`+timeout+`</tev:Timeout><tev:MessageLimit>`+itoa(limit)+`</tev:MessageLimit></tev:PullMessages>`))
	if r.fault() != "" {
		return nil, r
	}
	if r.body.Name.Local != "PullMessagesResponse" || r.body.child("CurrentTime") == nil || r.body.child("TerminationTime") == nil {
		t.Fatalf("pull answered %s", r.raw)
	}
	var out []event
	for _, m := range r.body.children("NotificationMessage") {
		msg := path(m, "Message", "Message")
		items := map[string]string{}
		for _, it := range append(msg.child("Source").children("SimpleItem"), msg.child("Data").children("SimpleItem")...) {
			items[attrOf(t, it, "Name")] = attrOf(t, it, "Value")
		}
		if d, _ := m.child("Topic").attr("Dialect"); d != dialectConcreteSet {
			t.Fatalf("dialect %q", d)
		}
		if _, err := parseXSDateTime(attrOf(t, msg, "UtcTime")); err != nil {
			t.Fatal(err)
		}
		// The topic's prefix must resolve to ONVIF's topic namespace.
		if n, ok := m.child("Topic").resolve(m.child("Topic").text()); !ok || n.Space != "http://www.onvif.org/ver10/topics" {
			t.Fatalf("topic %q resolves to %v", m.child("Topic").text(), n)
		}
		out = append(out, event{m.child("Topic").text(), attrOf(t, msg, "PropertyOperation"),
			items["VideoSourceConfigurationToken"], items["Rule"], items["IsMotion"]})
	}
	return out, r
}

func TestEventProperties(t *testing.T) {
	s := start(t, Options{})
	resp := mustCall(t, s, "", `<tev:GetEventProperties/>`)
	motion := path(resp, "TopicSet", "RuleEngine", "CellMotionDetector", "Motion")
	if motion == nil || path(resp, "TopicSet", "RuleEngine").Name.Space != "http://www.onvif.org/ver10/topics" {
		t.Fatalf("no motion topic: %v", resp)
	}
	if v, _ := motion.attr("topic"); v != "true" {
		t.Fatalf("Motion is not marked a topic")
	}
	data := path(motion, "MessageDescription", "Data", "SimpleItemDescription")
	if attrOf(t, data, "Name") != "IsMotion" || attrOf(t, data, "Type") != "xs:boolean" {
		t.Fatalf("data description %v", data)
	}
	found := false
	for _, d := range resp.children("TopicExpressionDialect") {
		found = found || d.text() == dialectConcreteSet
	}
	if !found {
		t.Fatal("ConcreteSet dialect not listed")
	}
}

func TestPullMotion(t *testing.T) {
	s := start(t, Options{Username: testUser, Password: testPass, ClockOffset: 2 * time.Hour, Profiles: twoProfiles(false).Profiles})
	s.RaiseMotion("VideoSource_2", true) // before the subscription: shows in Initialized
	addr := subscribe(t, s, "PT1M")
	if s.Subscriptions() != 1 {
		t.Fatalf("%d subscriptions", s.Subscriptions())
	}

	evs, _ := pull(t, s, addr, "PT1S", 10)
	want := []event{
		{motionTopic, "Initialized", "VideoSourceConfig_1", motionRule, "false"},
		{motionTopic, "Initialized", "VideoSourceConfig_2", motionRule, "true"},
	}
	if len(evs) != 2 || evs[0] != want[0] || evs[1] != want[1] {
		t.Fatalf("initial messages %+v", evs)
	}

	// A long poll waits for the next event and returns with it.
	go func() {
		time.Sleep(300 * time.Millisecond)
		s.RaiseMotion("main", true) // a profile token names its source
	}()
	t0 := time.Now()
	evs, r := pull(t, s, addr, "PT10S", 10)
	if waited := time.Since(t0); waited < 200*time.Millisecond || waited > 5*time.Second {
		t.Fatalf("long poll returned after %v", waited)
	}
	if len(evs) != 1 || evs[0] != (event{motionTopic, "Changed", "VideoSourceConfig_1", motionRule, "true"}) {
		t.Fatalf("motion event %+v", evs)
	}
	// Times are the camera's.
	cur, _ := parseXSDateTime(r.body.child("CurrentTime").text())
	if d := cur.Sub(time.Now().Add(2 * time.Hour)); d > 2*time.Second || d < -2*time.Second {
		t.Fatalf("CurrentTime %v is %v off the camera's clock", cur, d)
	}

	// MessageLimit splits a backlog.
	for i := range 5 {
		s.RaiseMotion("VideoSourceConfig_1", i%2 == 0)
	}
	if evs, _ := pull(t, s, addr, "PT0S", 3); len(evs) != 3 {
		t.Fatalf("limit 3: %d", len(evs))
	}
	if evs, _ := pull(t, s, addr, "PT0S", 10); len(evs) != 2 || evs[1].motion != "true" {
		t.Fatalf("rest: %+v", evs)
	}
	// An empty poll answers at its timeout.
	t0 = time.Now()
	if evs, _ := pull(t, s, addr, "PT0.3S", 10); len(evs) != 0 || time.Since(t0) < 250*time.Millisecond {
		t.Fatalf("empty poll: %+v after %v", evs, time.Since(t0))
	}

	// SetSynchronizationPoint queues the current state again.
	mustCallAt(t, addr, auth(s), `<tev:SetSynchronizationPoint/>`)
	if evs, _ := pull(t, s, addr, "PT0S", 10); len(evs) != 2 || evs[0].op != "Initialized" || evs[0].motion != "true" {
		t.Fatalf("after synchronization point: %+v", evs)
	}

	// Renew moves the end; Unsubscribe ends it.
	resp := mustCallAt(t, addr, auth(s), `<wsnt:Renew><wsnt:TerminationTime>PT10M</wsnt:TerminationTime></wsnt:Renew>`)
	end, _ := parseXSDateTime(resp.child("TerminationTime").text())
	cur, _ = parseXSDateTime(resp.child("CurrentTime").text())
	if d := end.Sub(cur); d != 10*time.Minute {
		t.Fatalf("renewed for %v", d)
	}
	mustCallAt(t, addr, auth(s), `<wsnt:Unsubscribe/>`)
	_, r = pull(t, s, addr, "PT0S", 1)
	expectFault(t, r, 400, "Sender/ResourceUnknownFault")
	expectFault(t, post(t, addr, soapDoc(auth(s), `<wsnt:Renew><wsnt:TerminationTime>PT1M</wsnt:TerminationTime></wsnt:Renew>`)), 400, "Sender/ResourceUnknownFault")
	if s.Subscriptions() != 0 {
		t.Fatalf("%d subscriptions after unsubscribe", s.Subscriptions())
	}
}

func mustCallAt(t *testing.T, url, header, body string) *elem {
	t.Helper()
	r := post(t, url, soapDoc(header, body))
	if r.status != 200 || r.fault() != "" {
		t.Fatalf("%s: %d %q %s", firstTag(body), r.status, r.fault(), r.raw)
	}
	return r.body
}

// A client may post to the events service and name the subscription with
// wsa:To instead of the path.
func TestSubscriptionByWSATo(t *testing.T) {
	s := start(t, Options{})
	addr := subscribe(t, s, "")
	r := post(t, "http://"+s.Addr()+"/onvif/events_service",
		soapDoc(`<wsa:To>`+addr+`</wsa:To>`, `<tev:PullMessages><tev:Timeout>PT0S</tev:Timeout><tev:MessageLimit>5</tev:MessageLimit></tev:PullMessages>`))
	if r.status != 200 || len(r.body.children("NotificationMessage")) != 1 {
		t.Fatalf("pull by wsa:To: %d %s", r.status, r.raw)
	}
	_, r = pull(t, s, "http://"+s.Addr()+"/onvif/subscription/nope", "PT0S", 1)
	expectFault(t, r, 400, "Sender/ResourceUnknownFault")
}

func TestSubscriptionExpires(t *testing.T) {
	s := start(t, Options{})
	addr := subscribe(t, s, "PT0.5S")
	time.Sleep(700 * time.Millisecond)
	_, r := pull(t, s, addr, "PT0S", 1)
	expectFault(t, r, 400, "Sender/ResourceUnknownFault")

	// An absolute InitialTerminationTime in the camera's clock works too;
	// one in the past is refused.
	future := xsDateTime(s.cameraNow().Add(time.Minute))
	subscribe(t, s, future)
	past := xsDateTime(s.cameraNow().Add(-time.Minute))
	expectFault(t, post(t, s.DeviceURL(), soapDoc("", `<tev:CreatePullPointSubscription><tev:InitialTerminationTime>`+past+`</tev:InitialTerminationTime></tev:CreatePullPointSubscription>`)),
		400, "Sender/UnacceptableInitialTerminationTimeFault")
	// A long poll ends when its subscription expires.
	addr = subscribe(t, s, "PT0.4S")
	t0 := time.Now()
	pull(t, s, addr, "PT0S", 5) // the Initialized message
	_, r = pull(t, s, addr, "PT30S", 5)
	if time.Since(t0) > 5*time.Second {
		t.Fatalf("poll outlived its subscription: %v", time.Since(t0))
	}
	expectFault(t, r, 400, "Sender/ResourceUnknownFault")
}

// PullMessages keeps a subscription with a relative termination time
// alive (ONVIF's pull point); an absolute one ends when it says.
func TestPullKeepsSubscriptionAlive(t *testing.T) {
	s := start(t, Options{})
	relative := subscribe(t, s, "PT1S")
	absolute := subscribe(t, s, xsDateTime(s.cameraNow().Add(1500*time.Millisecond)))
	for range 5 {
		time.Sleep(400 * time.Millisecond)
		if _, r := pull(t, s, relative, "PT0S", 10); r.fault() != "" {
			t.Fatalf("relative subscription ended despite pulls: %s", r.raw)
		}
		pull(t, s, absolute, "PT0S", 10)
	}
	_, r := pull(t, s, absolute, "PT0S", 10)
	expectFault(t, r, 400, "Sender/ResourceUnknownFault")
}

// A restart loses every subscription: a pending poll is cut and the old
// address is unknown afterwards; a new subscription works.
func TestRestartLosesSubscriptions(t *testing.T) {
	s := start(t, Options{})
	addr := subscribe(t, s, "PT5M")
	pull(t, s, addr, "PT0S", 10)

	done := make(chan error, 1)
	go func() {
		resp, err := httpPost(addr, soapDoc("", `<tev:PullMessages><tev:Timeout>PT30S</tev:Timeout><tev:MessageLimit>1</tev:MessageLimit></tev:PullMessages>`))
		if err == nil && resp.StatusCode == 200 {
			err = errString("pending poll answered 200")
		}
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	restart(t, s)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("pending poll not cut")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending poll still hanging after the restart")
	}
	_, r := pull(t, s, addr, "PT0S", 1)
	expectFault(t, r, 400, "Sender/ResourceUnknownFault")
	if s.Subscriptions() != 0 {
		t.Fatalf("%d subscriptions after restart", s.Subscriptions())
	}
	addr = subscribe(t, s, "")
	s.RaiseMotion("main", true)
	if evs, _ := pull(t, s, addr, "PT1S", 10); len(evs) != 2 || evs[1].motion != "true" {
		t.Fatalf("after restart: %+v", evs)
	}
}

func TestMotionEvery(t *testing.T) {
	s := start(t, Options{MotionEvery: 100 * time.Millisecond})
	addr := subscribe(t, s, "")
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 4 && time.Now().Before(deadline) {
		evs, _ := pull(t, s, addr, "PT1S", 10)
		for _, e := range evs {
			if e.op == "Changed" {
				got = append(got, e.motion)
			}
		}
	}
	if !strings.HasPrefix(strings.Join(got, ","), "true,false,true,false") {
		t.Fatalf("alternation %v", got)
	}
}

func TestTooManySubscriptions(t *testing.T) {
	s := start(t, Options{})
	for range maxSubscriptions {
		subscribe(t, s, "")
	}
	expectFault(t, post(t, s.DeviceURL(), soapDoc("", `<tev:CreatePullPointSubscription/>`)), 500, "Receiver/Action/TooManySubscriptions")
}
