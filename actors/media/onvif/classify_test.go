package onvif

import (
	"maps"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 0, 4, 0, time.UTC)
	yes, no := true, false
	for _, tc := range []struct {
		name   string
		n      Notification
		kind   string
		source string
		state  *bool
	}{
		{"cell motion", Notification{Topic: "tns1:RuleEngine/CellMotionDetector/Motion",
			Source: map[string]string{"VideoSourceConfigurationToken": "vsc1", "VideoAnalyticsConfigurationToken": "va1", "Rule": "r"},
			Data:   map[string]string{"IsMotion": "true"}}, KindMotion, "vsc1", &yes},
		{"motion alarm", Notification{Topic: "tns1:VideoSource/MotionAlarm",
			Source: map[string]string{"Source": "vs1"}, Data: map[string]string{"State": "0"}}, KindMotion, "vs1", &no},
		{"region motion", Notification{Topic: "tns1:RuleEngine/MotionRegionDetector/Motion",
			Source: map[string]string{"VideoSource": "x", "VideoSourceToken": "vs2"}, Data: map[string]string{"State": "1"}}, KindMotion, "vs2", &yes},
		{"scene change", Notification{Topic: "tns1:VideoSource/GlobalSceneChange/ImagingService",
			Source: map[string]string{"Source": "vs1"}, Data: map[string]string{"State": "False"}}, KindTamper, "vs1", &no},
		{"tamper detector", Notification{Topic: "tns1:RuleEngine/TamperDetector/Tamper",
			Data: map[string]string{"IsTamper": "true"}}, KindTamper, "", &yes},
		{"too dark", Notification{Topic: "tns1:VideoSource/ImageTooDark/AnalyticsService",
			Data: map[string]string{"State": "true"}}, KindTamper, "", &yes},
		{"too blurry", Notification{Topic: "tns1:VideoSource/ImageTooBlurry/ImagingService"}, KindTamper, "", nil},
		{"digital input", Notification{Topic: "tns1:Device/Trigger/DigitalInput",
			Source: map[string]string{"InputToken": "DI_1"}, Data: map[string]string{"LogicalState": "false"}}, KindInput, "DI_1", &no},
		{"io port", Notification{Topic: "tns1:Device/IO/Port",
			Source: map[string]string{"Port": "1"}, Data: map[string]string{"Value": "1"}}, KindInput, "1", &yes},
		{"axis io port", Notification{Topic: "tns1:Device/tnsaxis:IO/Port",
			Source: map[string]string{"port": "2"}, Data: map[string]string{"state": "0"}}, KindInput, "2", &no},
		{"relay is other", Notification{Topic: "tns1:Device/Trigger/Relay",
			Source: map[string]string{"RelayToken": "R1"}, Data: map[string]string{"LogicalState": "active"}}, KindOther, "", nil},
		{"case matters", Notification{Topic: "tns1:ruleengine/cellmotiondetector/motion"}, KindOther, "", nil},
		{"no tns1 prefix", Notification{Topic: "tnsvendor:RuleEngine/CellMotionDetector/Motion"}, KindOther, "", nil},
		{"longer motion path", Notification{Topic: "tns1:RuleEngine/CellMotionDetector/Motion/Extra"}, KindOther, "", nil},
		{"scene change lookalike", Notification{Topic: "tns1:VideoSource/GlobalSceneChangeX"}, KindOther, "", nil},
		{"vendor tamper", Notification{Topic: "tns1:VideoSource/tnsvendor:TamperAlarm",
			Data: map[string]string{"Value": "maybe"}}, KindOther, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.n.Time = at
			ev := Classify(tc.n)
			if ev.Kind != tc.kind || ev.Source != tc.source || ev.Topic != tc.n.Topic || !ev.Time.Equal(at) {
				t.Fatalf("got %+v, want kind %s source %q", ev, tc.kind, tc.source)
			}
			switch {
			case tc.state == nil && ev.State != nil:
				t.Fatalf("state %v, want none", *ev.State)
			case tc.state != nil && (ev.State == nil || *ev.State != *tc.state):
				t.Fatalf("state %v, want %v", ev.State, *tc.state)
			}
			if !maps.Equal(ev.Data, tc.n.Data) {
				t.Fatalf("data %v, want %v", ev.Data, tc.n.Data)
			}
		})
	}
}

func TestClassifyKeepsThePropertyOperation(t *testing.T) {
	n := Notification{
		Topic:             "tns1:RuleEngine/CellMotionDetector/Motion",
		PropertyOperation: "Initialized",
		Data:              map[string]string{"IsMotion": "false"},
	}
	ev := Classify(n)
	if ev.Data["property_operation"] != "Initialized" || ev.Data["IsMotion"] != "false" || ev.State == nil || *ev.State {
		t.Fatalf("%+v", ev)
	}
	if _, ok := n.Data["property_operation"]; ok {
		t.Fatal("Classify wrote into the notification's Data")
	}
}
