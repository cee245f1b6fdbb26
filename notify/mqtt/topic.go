package mqtt

import "strings"

// Ids already match ^[a-z0-9][a-z0-9_-]{0,62}$ and event types are
// "word.word", each one topic level as it is; level still replaces what
// would split or widen a level, so a malformed id never publishes outside
// its place.

// AlarmTopic is where a device's alarms go: "argus/alarms/<device>".
func AlarmTopic(device string) string { return "argus/alarms/" + level(device) }

// EventTopic is where events of one type go: "argus/events/<type>".
func EventTopic(eventType string) string { return "argus/events/" + level(eventType) }

// StatusTopic holds a device's status, retained: "argus/devices/<device>/status".
func StatusTopic(device string) string { return "argus/devices/" + level(device) + "/status" }

var levelReplacer = strings.NewReplacer("/", "_", "+", "_", "#", "_", "\x00", "_")

// level makes s one non-empty topic level without wildcards.
func level(s string) string {
	if s == "" {
		return "_"
	}
	return levelReplacer.Replace(s)
}
