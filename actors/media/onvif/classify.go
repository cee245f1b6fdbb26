package onvif

import (
	"maps"
	"strings"
	"time"
)

// Kinds of CameraEvent.
const (
	KindMotion = "motion"
	KindTamper = "tamper"
	KindInput  = "input"
	KindOther  = "other"
)

// CameraEvent is a notification as Argus records it: kind "motion",
// "tamper", "input" or "other"; Source the source token
// (VideoSourceConfigurationToken / VideoSourceToken / InputToken …
// whichever SimpleItem is there, empty if none); State the boolean state
// when the message carries one (IsMotion, IsTamper, LogicalState, State,
// Value as "true"/"false"/"1"/"0" → *bool), nil otherwise. Data is the
// message's Data items, with its PropertyOperation (when it has one) under
// "property_operation".
type CameraEvent struct {
	Kind, Topic, Source string
	State               *bool
	Time                time.Time
	Data                map[string]string
}

// Topic paths (after tns1:) by kind. An entry ending in "/" matches the
// topics under it too.
var eventKinds = []struct {
	kind   string
	topics []string
}{
	{KindMotion, []string{
		"RuleEngine/CellMotionDetector/Motion",
		"RuleEngine/MotionRegionDetector/Motion",
		"VideoSource/MotionAlarm",
	}},
	{KindTamper, []string{
		"RuleEngine/TamperDetector/Tamper",
		"VideoSource/GlobalSceneChange/",
		"VideoSource/ImageTooDark/",
		"VideoSource/ImageTooBright/",
		"VideoSource/ImageTooBlurry/",
	}},
	{KindInput, []string{
		"Device/Trigger/DigitalInput",
		"Device/IO/Port",
	}},
}

// Source items naming what an event is about, most telling first.
var sourceItems = []string{"VideoSourceConfigurationToken", "VideoSourceToken", "Source", "InputToken", "Port"}

// State items, most telling first.
var stateItems = []string{"IsMotion", "IsTamper", "LogicalState", "State", "Value"}

// Classify turns a notification into the event Argus records.
func Classify(n Notification) CameraEvent {
	ev := CameraEvent{
		Kind:   topicKind(n.Topic),
		Topic:  n.Topic,
		Time:   n.Time,
		Data:   maps.Clone(n.Data),
		Source: firstItem(n.Source, sourceItems, func(v string) bool { return v != "" }),
	}
	if ev.Data == nil {
		ev.Data = map[string]string{}
	}
	if n.PropertyOperation != "" {
		ev.Data["property_operation"] = n.PropertyOperation
	}
	if v := firstItem(n.Data, stateItems, func(v string) bool { _, ok := parseBool(v); return ok }); v != "" {
		state, _ := parseBool(v)
		ev.State = &state
	}
	return ev
}

// topicKind matches a topic's path in ONVIF's namespace. Vendors' own
// prefixes inside it are dropped, as vendors hang their nodes into ONVIF's
// tree (Axis: tns1:Device/tnsaxis:IO/Port); topics outside it are other.
func topicKind(topic string) string {
	path, ok := strings.CutPrefix(topic, "tns1:")
	if !ok {
		return KindOther
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if _, local, ok := strings.Cut(p, ":"); ok {
			parts[i] = local
		}
	}
	path = strings.Join(parts, "/")
	for _, k := range eventKinds {
		for _, t := range k.topics {
			if path == t || strings.HasSuffix(t, "/") && (path == strings.TrimSuffix(t, "/") || strings.HasPrefix(path, t)) {
				return k.kind
			}
		}
	}
	return KindOther
}

// firstItem is the value of the first of names among items that ok
// accepts. Names are matched ignoring case: some cameras write "state".
func firstItem(items map[string]string, names []string, ok func(string) bool) string {
	for _, name := range names {
		if v, found := items[name]; found && ok(v) {
			return v
		}
		for k, v := range items {
			if strings.EqualFold(k, name) && ok(v) {
				return v
			}
		}
	}
	return ""
}

// parseBool reads an xs:boolean, leniently about case and spaces.
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}
