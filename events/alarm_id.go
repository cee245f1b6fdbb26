package events

import (
	"strconv"
	"strings"
)

// An alarm slot is one device channel's alarms of one type (channel 0: the
// device as a whole); it is the alarm aggregate. Each alarm is one
// occurrence of its slot, numbered from 1. Ids are "<device>~<ch>~<type>"
// and "<device>~<ch>~<type>~<n>": the device part routes them to its shard,
// and every part is a safe subject token.
type AlarmSlot struct {
	Device  string
	Channel int
	Type    string
}

// ValidAlarmType reports whether t may name an alarm type:
// ^[a-z][a-z0-9_]{0,31}$ (motion, tamper, input, offline, an API caller's).
func ValidAlarmType(t string) bool {
	if len(t) == 0 || len(t) > 32 || t[0] < 'a' || t[0] > 'z' {
		return false
	}
	for i := 1; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// AlarmTypeRule is ValidAlarmType in words, for error messages.
const AlarmTypeRule = "must match ^[a-z][a-z0-9_]{0,31}$"

// ID is the slot's aggregate id.
func (s AlarmSlot) ID() string {
	return s.Device + "~" + strconv.Itoa(s.Channel) + "~" + s.Type
}

// AlarmID is the public id of the slot's alarm number n.
func (s AlarmSlot) AlarmID(n uint32) string {
	return s.ID() + "~" + strconv.FormatUint(uint64(n), 10)
}

// ParseAlarmSlot reads a slot id back, validating every part.
func ParseAlarmSlot(id string) (AlarmSlot, bool) {
	device, rest, ok := strings.Cut(id, "~")
	if !ok || !ValidID(device) {
		return AlarmSlot{}, false
	}
	ch, typ, ok := strings.Cut(rest, "~")
	if !ok || !ValidAlarmType(typ) || len(ch) == 0 || len(ch) > 2 || (ch[0] == '0' && ch != "0") {
		return AlarmSlot{}, false
	}
	n, err := strconv.Atoi(ch)
	if err != nil || n < 0 || n > MaxChannels {
		return AlarmSlot{}, false
	}
	return AlarmSlot{Device: device, Channel: n, Type: typ}, true
}

// ParseAlarmID splits a public alarm id into its slot and number.
func ParseAlarmID(id string) (AlarmSlot, uint32, bool) {
	i := strings.LastIndexByte(id, '~')
	if i < 0 {
		return AlarmSlot{}, 0, false
	}
	num := id[i+1:]
	if len(num) == 0 || len(num) > 10 || num[0] == '0' {
		return AlarmSlot{}, 0, false
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil || n == 0 {
		return AlarmSlot{}, 0, false
	}
	s, ok := ParseAlarmSlot(id[:i])
	return s, uint32(n), ok
}
