package onvif

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

func connectedClient(t *testing.T, cam *cannedCamera) *Client {
	t.Helper()
	c := newTestClient(t, cam, Options{})
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPTZMoves(t *testing.T) {
	cam := newTestCamera(t)
	for _, op := range []string{"ContinuousMove", "AbsoluteMove", "RelativeMove", "Stop", "GotoHomePosition", "GotoPreset", "RemovePreset"} {
		cam.empty("tptz:" + op)
	}
	c := connectedClient(t, cam)
	ctx := context.Background()

	check := func(op string, parts ...string) {
		t.Helper()
		call := cam.lastCall(op)
		if call.path != "/onvif/PTZ" {
			t.Errorf("%s went to %s", op, call.path)
		}
		if want := `action="` + NSPTZ + "/" + op + `"`; !strings.Contains(call.contentType, want) {
			t.Errorf("%s content type %q", op, call.contentType)
		}
		for _, p := range append(parts, "<tptz:ProfileToken>Profile_1</tptz:ProfileToken>") {
			if !strings.Contains(call.doc, p) {
				t.Errorf("%s lacks %s: %s", op, p, call.doc)
			}
		}
	}
	if err := c.ContinuousMove(ctx, "Profile_1", Vector{Pan: 0.5, Tilt: -0.25}, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	check("ContinuousMove", `<tptz:Velocity><tt:PanTilt x="0.5" y="-0.25"/><tt:Zoom x="0"/></tptz:Velocity>`, "<tptz:Timeout>PT1.5S</tptz:Timeout>")
	if err := c.ContinuousMove(ctx, "Profile_1", Vector{Zoom: -1}, 0); err != nil {
		t.Fatal(err)
	}
	if doc := cam.lastCall("ContinuousMove").doc; strings.Contains(doc, "Timeout") {
		t.Errorf("a move without timeout sent one: %s", doc)
	}
	if err := c.AbsoluteMove(ctx, "Profile_1", Vector{Pan: -1, Tilt: 1, Zoom: 0.75}); err != nil {
		t.Fatal(err)
	}
	check("AbsoluteMove", `<tptz:Position><tt:PanTilt x="-1" y="1"/><tt:Zoom x="0.75"/></tptz:Position>`)
	if err := c.RelativeMove(ctx, "Profile_1", Vector{Pan: 0.1, Zoom: -0.2}); err != nil {
		t.Fatal(err)
	}
	check("RelativeMove", `<tptz:Translation><tt:PanTilt x="0.1" y="0"/><tt:Zoom x="-0.2"/></tptz:Translation>`)
	if err := c.Stop(ctx, "Profile_1"); err != nil {
		t.Fatal(err)
	}
	check("Stop", "<tptz:PanTilt>true</tptz:PanTilt><tptz:Zoom>true</tptz:Zoom>")
	if err := c.GotoHome(ctx, "Profile_1"); err != nil {
		t.Fatal(err)
	}
	check("GotoHomePosition")
	if err := c.GotoPreset(ctx, "Profile_1", "3"); err != nil {
		t.Fatal(err)
	}
	check("GotoPreset", "<tptz:PresetToken>3</tptz:PresetToken>")
	if err := c.RemovePreset(ctx, "Profile_1", "3"); err != nil {
		t.Fatal(err)
	}
	check("RemovePreset", "<tptz:PresetToken>3</tptz:PresetToken>")

	calls := len(cam.seen())
	for _, bad := range []Vector{{Pan: 1.5}, {Tilt: math.NaN()}, {Zoom: math.Inf(1)}} {
		if err := c.RelativeMove(ctx, "Profile_1", bad); err == nil {
			t.Errorf("RelativeMove %+v accepted", bad)
		}
	}
	if err := c.AbsoluteMove(ctx, "Profile_1", Vector{Zoom: -0.5}); err == nil {
		t.Error("absolute zoom below 0 accepted")
	}
	if len(cam.seen()) != calls {
		t.Error("a vector out of range was sent")
	}
}

func TestPTZStatusAndPresets(t *testing.T) {
	cam := newTestCamera(t)
	cam.answer("GetStatus", "ptz_status.xml")
	cam.answer("GetPresets", "ptz_presets.xml")
	cam.answer("SetPreset", "ptz_set_preset.xml")
	c := connectedClient(t, cam)
	ctx := context.Background()

	st, err := c.PTZStatus(ctx, "Profile_1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Position != (Vector{Pan: 0.127778, Tilt: -0.5, Zoom: 0.25}) || !st.Moving ||
		!st.UTCTime.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("status %+v", st)
	}
	idle := strings.NewReplacer("<tt:MoveStatus><tt:PanTilt>MOVING</tt:PanTilt><tt:Zoom>IDLE</tt:Zoom></tt:MoveStatus>",
		"<tt:MoveStatus>IDLE</tt:MoveStatus>").Replace(readTestdata(t, "ptz_status.xml"))
	cam.answer("GetStatus", idle)
	if st, err := c.PTZStatus(ctx, "Profile_1"); err != nil || st.Moving {
		t.Fatalf("idle status %+v %v", st, err)
	}

	presets, err := c.Presets(ctx, "Profile_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(presets) != 2 || presets[0].Token != "1" || presets[0].Name != "Gate" ||
		presets[0].Position == nil || *presets[0].Position != (Vector{Pan: 0.5, Tilt: 0.1}) ||
		presets[1].Token != "2" || presets[1].Position != nil {
		t.Fatalf("presets %+v", presets)
	}

	tok, err := c.SetPreset(ctx, "Profile_1", "Door & Gate", "")
	if err != nil || tok != "7" {
		t.Fatalf("SetPreset %q %v", tok, err)
	}
	doc := cam.lastCall("SetPreset").doc
	if !strings.Contains(doc, "<tptz:PresetName>Door &amp; Gate</tptz:PresetName>") || strings.Contains(doc, "PresetToken") {
		t.Fatalf("SetPreset request: %s", doc)
	}
	if _, err := c.SetPreset(ctx, "Profile_1", "Gate", "1"); err != nil {
		t.Fatal(err)
	}
	if doc := cam.lastCall("SetPreset").doc; !strings.Contains(doc, "<tptz:PresetToken>1</tptz:PresetToken>") {
		t.Fatalf("SetPreset over a token: %s", doc)
	}
}
