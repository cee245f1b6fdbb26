package onvifsrv

import (
	"strconv"
	"testing"
	"time"
)

func ptzCall(t *testing.T, s *Server, body string) *elem {
	t.Helper()
	return mustCall(t, s, auth(s), body)
}

// status reads GetStatus: the position and the pan/tilt move status.
func status(t *testing.T, s *Server) (vec, string) {
	t.Helper()
	st := ptzCall(t, s, `<tptz:GetStatus><tptz:ProfileToken>main</tptz:ProfileToken></tptz:GetStatus>`).child("PTZStatus")
	f := func(e *elem, a string) float64 {
		v, err := strconv.ParseFloat(attrOf(t, e, a), 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	pos := st.child("Position")
	if path(st, "UtcTime").text() == "" {
		t.Fatal("no UtcTime")
	}
	return vec{f(pos.child("PanTilt"), "x"), f(pos.child("PanTilt"), "y"), f(pos.child("Zoom"), "x")},
		path(st, "MoveStatus", "PanTilt").text()
}

func TestPTZNotSupported(t *testing.T) {
	s := start(t, Options{})
	for _, body := range []string{`<tptz:GetNodes/>`, `<tptz:GetStatus><tptz:ProfileToken>main</tptz:ProfileToken></tptz:GetStatus>`, `<tptz:GetServiceCapabilities/>`} {
		expectFault(t, post(t, s.DeviceURL(), soapDoc("", body)), 500, "Receiver/ActionNotSupported/PTZNotSupported")
	}
	if st := s.Position("main"); st != (PTZState{}) {
		t.Fatalf("position without PTZ: %+v", st)
	}
}

func TestPTZDescriptions(t *testing.T) {
	s := start(t, Options{PTZ: true, Username: testUser, Password: testPass})
	n := ptzCall(t, s, `<tptz:GetNodes/>`).child("PTZNode")
	if attrOf(t, n, "token") != ptzNodeToken || path(n, "SupportedPTZSpaces", "ContinuousPanTiltVelocitySpace", "URI").text() != spacePanTiltVelocity {
		t.Fatalf("node %v", n)
	}
	c := ptzCall(t, s, `<tptz:GetConfigurations/>`).child("PTZConfiguration")
	if attrOf(t, c, "token") != ptzConfigToken || c.child("NodeToken").text() != ptzNodeToken || c.child("DefaultPTZTimeout").text() != "PT5S" {
		t.Fatalf("configuration %v", c)
	}
	ptzCall(t, s, `<tptz:GetConfiguration><tptz:PTZConfigurationToken>PTZConfig_1</tptz:PTZConfigurationToken></tptz:GetConfiguration>`)
	opts := ptzCall(t, s, `<tptz:GetConfigurationOptions><tptz:ConfigurationToken>PTZConfig_1</tptz:ConfigurationToken></tptz:GetConfigurationOptions>`)
	if path(opts, "PTZConfigurationOptions", "PTZTimeout", "Max").text() != "PT60S" {
		t.Fatalf("options %v", opts)
	}
	ptzCall(t, s, `<tptz:GetNode><tptz:NodeToken>PTZNode_1</tptz:NodeToken></tptz:GetNode>`)
	expectFault(t, post(t, s.DeviceURL(), soapDoc(auth(s), `<tptz:GetNode><tptz:NodeToken>x</tptz:NodeToken></tptz:GetNode>`)), 400, "Sender/InvalidArgVal/NoEntity")
}

func TestContinuousMove(t *testing.T) {
	s := start(t, Options{PTZ: true})
	ptzCall(t, s, `<tptz:ContinuousMove><tptz:ProfileToken>main</tptz:ProfileToken>`+
		`<tptz:Velocity><tt:PanTilt x="1" y="-0.5"/><tt:Zoom x="0.5"/></tptz:Velocity><tptz:Timeout>PT0.3S</tptz:Timeout></tptz:ContinuousMove>`)
	if st := s.Position("main"); !st.Moving {
		t.Fatalf("not moving: %+v", st)
	}
	if _, ms := status(t, s); ms != "MOVING" {
		t.Fatalf("move status %q", ms)
	}
	time.Sleep(500 * time.Millisecond) // past the timeout: stopped by itself
	pos, ms := status(t, s)
	if ms != "IDLE" {
		t.Fatalf("still %s after the timeout", ms)
	}
	// 0.3 s at 1, -0.5 and 0.5 units a second.
	if !near(pos.pan, 0.3) || !near(pos.tilt, -0.15) || !near(pos.zoom, 0.15) {
		t.Fatalf("position %+v", pos)
	}
	if st := s.Position("main"); st.Moving || !near(st.Pan, 0.3) {
		t.Fatalf("Position %+v", st)
	}

	// Without Timeout the configuration's default (5 s) runs; Stop ends it.
	ptzCall(t, s, `<tptz:ContinuousMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Velocity><tt:PanTilt x="-1" y="0"/></tptz:Velocity></tptz:ContinuousMove>`)
	time.Sleep(100 * time.Millisecond)
	ptzCall(t, s, `<tptz:Stop><tptz:ProfileToken>main</tptz:ProfileToken><tptz:PanTilt>true</tptz:PanTilt><tptz:Zoom>true</tptz:Zoom></tptz:Stop>`)
	p1, ms := status(t, s)
	time.Sleep(100 * time.Millisecond)
	p2, _ := status(t, s)
	if ms != "IDLE" || p1 != p2 || p1.pan >= 0.3 {
		t.Fatalf("after stop: %s %+v then %+v", ms, p1, p2)
	}

	for body, fault := range map[string]string{
		`<tptz:ContinuousMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Velocity><tt:PanTilt x="2" y="0"/></tptz:Velocity></tptz:ContinuousMove>`:                                  "Sender/InvalidArgVal/InvalidVelocity",
		`<tptz:ContinuousMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Velocity><tt:PanTilt x="a" y="0"/></tptz:Velocity></tptz:ContinuousMove>`:                                  "Sender/InvalidArgs",
		`<tptz:ContinuousMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Velocity><tt:PanTilt x="1" y="0" space="http://x/y"/></tptz:Velocity></tptz:ContinuousMove>`:               "Sender/InvalidArgVal/SpaceNotSupported",
		`<tptz:ContinuousMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Velocity><tt:PanTilt x="1" y="0"/></tptz:Velocity><tptz:Timeout>soon</tptz:Timeout></tptz:ContinuousMove>`: "Sender/InvalidArgVal/TimeoutNotSupported",
		`<tptz:ContinuousMove><tptz:ProfileToken>nope</tptz:ProfileToken><tptz:Velocity><tt:PanTilt x="1" y="0"/></tptz:Velocity></tptz:ContinuousMove>`:                                  "Sender/InvalidArgVal/NoProfile",
		`<tptz:AbsoluteMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Position><tt:Zoom x="-0.1"/></tptz:Position></tptz:AbsoluteMove>`:                                            "Sender/InvalidArgVal/InvalidPosition",
		`<tptz:AbsoluteMove><tptz:ProfileToken>main</tptz:ProfileToken></tptz:AbsoluteMove>`:                                                                                              "Sender/InvalidArgs",
		`<tptz:Stop><tptz:ProfileToken>main</tptz:ProfileToken><tptz:PanTilt>maybe</tptz:PanTilt></tptz:Stop>`:                                                                            "Sender/InvalidArgs",
	} {
		expectFault(t, post(t, s.DeviceURL(), soapDoc("", body)), 400, fault)
	}
}

func near(a, b float64) bool { return a-b < 0.05 && b-a < 0.05 }

func TestAbsoluteRelativeHome(t *testing.T) {
	s := start(t, Options{PTZ: true, Profiles: twoProfiles(true).Profiles})
	ptzCall(t, s, `<tptz:AbsoluteMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Position>`+
		`<tt:PanTilt x="0.5" y="-0.25" space="`+spacePanTiltPosition+`"/><tt:Zoom x="0.4"/></tptz:Position></tptz:AbsoluteMove>`)
	if pos, _ := status(t, s); pos != (vec{0.5, -0.25, 0.4}) {
		t.Fatalf("absolute: %+v", pos)
	}
	// Every profile sees the one head.
	if st := s.Position("profile_2"); st.Pan != 0.5 || st.Zoom != 0.4 {
		t.Fatalf("second profile: %+v", st)
	}
	// Only zoom: pan/tilt stay.
	ptzCall(t, s, `<tptz:AbsoluteMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Position><tt:Zoom x="1"/></tptz:Position></tptz:AbsoluteMove>`)
	ptzCall(t, s, `<tptz:SetHomePosition><tptz:ProfileToken>main</tptz:ProfileToken></tptz:SetHomePosition>`)
	// Relative moves clamp at the limits.
	ptzCall(t, s, `<tptz:RelativeMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Translation><tt:PanTilt x="0.75" y="-1"/><tt:Zoom x="0.5"/></tptz:Translation></tptz:RelativeMove>`)
	if pos, _ := status(t, s); pos != (vec{1, -1, 1}) {
		t.Fatalf("relative: %+v", pos)
	}
	ptzCall(t, s, `<tptz:GotoHomePosition><tptz:ProfileToken>main</tptz:ProfileToken></tptz:GotoHomePosition>`)
	if pos, _ := status(t, s); pos != (vec{0.5, -0.25, 1}) {
		t.Fatalf("home: %+v", pos)
	}
}

func TestPresets(t *testing.T) {
	s := start(t, Options{PTZ: true})
	move := func(x string) {
		ptzCall(t, s, `<tptz:AbsoluteMove><tptz:ProfileToken>main</tptz:ProfileToken><tptz:Position><tt:PanTilt x="`+x+`" y="0"/></tptz:Position></tptz:AbsoluteMove>`)
	}
	setPreset := func(name, token string) response {
		b := `<tptz:SetPreset><tptz:ProfileToken>main</tptz:ProfileToken>`
		if name != "" {
			b += `<tptz:PresetName>` + name + `</tptz:PresetName>`
		}
		if token != "" {
			b += `<tptz:PresetToken>` + token + `</tptz:PresetToken>`
		}
		return post(t, s.DeviceURL(), soapDoc("", b+`</tptz:SetPreset>`))
	}
	move("0.5")
	r := setPreset("door", "")
	if tok := r.body.child("PresetToken").text(); tok != "preset_1" {
		t.Fatalf("first preset token %q: %s", tok, r.raw)
	}
	move("-0.5")
	if tok := setPreset("", "").body.child("PresetToken").text(); tok != "preset_2" {
		t.Fatalf("second preset token %q", tok)
	}
	expectFault(t, setPreset("door", ""), 400, "Sender/InvalidArgVal/PresetExist")
	expectFault(t, setPreset("x", "preset_9"), 400, "Sender/InvalidArgVal/NoToken")

	list := ptzCall(t, s, `<tptz:GetPresets><tptz:ProfileToken>main</tptz:ProfileToken></tptz:GetPresets>`).children("Preset")
	if len(list) != 2 || attrOf(t, list[0], "token") != "preset_1" || list[0].child("Name").text() != "door" ||
		list[1].child("Name").text() != "preset_2" || attrOf(t, path(list[0], "PTZPosition", "PanTilt"), "x") != "0.5" {
		t.Fatalf("presets %v", list)
	}
	ptzCall(t, s, `<tptz:GotoPreset><tptz:ProfileToken>main</tptz:ProfileToken><tptz:PresetToken>preset_1</tptz:PresetToken></tptz:GotoPreset>`)
	if st := s.Position("main"); st.Pan != 0.5 {
		t.Fatalf("after GotoPreset: %+v", st)
	}
	// Overwrite preset_1 in place with the new position.
	move("0.1")
	if tok := setPreset("", "preset_1").body.child("PresetToken").text(); tok != "preset_1" {
		t.Fatalf("overwrite answered %q", tok)
	}
	ptzCall(t, s, `<tptz:RemovePreset><tptz:ProfileToken>main</tptz:ProfileToken><tptz:PresetToken>preset_2</tptz:PresetToken></tptz:RemovePreset>`)
	for _, body := range []string{
		`<tptz:GotoPreset><tptz:ProfileToken>main</tptz:ProfileToken><tptz:PresetToken>preset_2</tptz:PresetToken></tptz:GotoPreset>`,
		`<tptz:RemovePreset><tptz:ProfileToken>main</tptz:ProfileToken><tptz:PresetToken>preset_2</tptz:PresetToken></tptz:RemovePreset>`,
	} {
		expectFault(t, post(t, s.DeviceURL(), soapDoc("", body)), 400, "Sender/InvalidArgVal/NoToken")
	}
	list = ptzCall(t, s, `<tptz:GetPresets><tptz:ProfileToken>main</tptz:ProfileToken></tptz:GetPresets>`).children("Preset")
	if len(list) != 1 || attrOf(t, path(list[0], "PTZPosition", "PanTilt"), "x") != "0.1" {
		t.Fatalf("presets after remove %v", list)
	}
	// Presets survive a restart, as a camera's settings do.
	restart(t, s)
	if n := len(ptzCall(t, s, `<tptz:GetPresets><tptz:ProfileToken>main</tptz:ProfileToken></tptz:GetPresets>`).children("Preset")); n != 1 {
		t.Fatalf("%d presets after restart", n)
	}
}
