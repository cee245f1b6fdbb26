package onvifsrv

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// PTZState is where the PTZ head points, in ONVIF's generic spaces: pan
// and tilt -1..1, zoom 0..1; Moving while a continuous move runs.
type PTZState struct {
	Pan, Tilt, Zoom float64
	Moving          bool
}

// The PTZ head's limits and defaults.
const (
	maxPresets        = 100
	defaultPTZTimeout = 5 * time.Second  // ContinuousMove without Timeout
	maxPTZTimeout     = 60 * time.Second // longer Timeouts are cut to this
	minPTZTimeout     = time.Second      // advertised minimum (shorter ones are honoured)
)

// vec is a position or velocity: pan, tilt, zoom.
type vec struct{ pan, tilt, zoom float64 }

// preset is a saved position.
type preset struct {
	token, name string
	pos         vec
}

// ptzHead is the camera's one pan/tilt/zoom head. Position is integrated
// lazily: pos was where the head was at t0, and it moves at vel until
// until, each axis clamped to its range. Absolute, relative, preset and
// home moves are instantaneous.
type ptzHead struct {
	now func() time.Time
	// changed, when set, is called (with mu held: it must not block or
	// call back) after every command that may change the position or the
	// movement.
	changed func()

	mu         sync.Mutex
	pos, vel   vec
	t0, until  time.Time
	home       vec
	presets    []preset
	nextPreset int
}

func newPTZHead(now func() time.Time) *ptzHead {
	return &ptzHead{now: now, t0: now(), nextPreset: 1}
}

// touched reports a command to changed; the caller holds mu.
func (h *ptzHead) touched() {
	if h.changed != nil {
		h.changed()
	}
}

func clamp(v, lo, hi float64) float64 { return min(max(v, lo), hi) }

func (p vec) clamped() vec {
	return vec{clamp(p.pan, -1, 1), clamp(p.tilt, -1, 1), clamp(p.zoom, 0, 1)}
}

// settle brings pos to now; the caller holds mu.
func (h *ptzHead) settle() time.Time {
	now := h.now()
	end := now
	if h.until.Before(end) {
		end = h.until
	}
	if dt := end.Sub(h.t0).Seconds(); dt > 0 {
		h.pos = vec{h.pos.pan + h.vel.pan*dt, h.pos.tilt + h.vel.tilt*dt, h.pos.zoom + h.vel.zoom*dt}.clamped()
	}
	h.t0 = now
	if !now.Before(h.until) {
		h.vel = vec{}
	}
	return now
}

// moving reports which axes are moving after settle: a velocity, and room
// left in its direction.
func (h *ptzHead) moving() (panTilt, zoom bool) {
	axis := func(p, v, lo, hi float64) bool { return v > 0 && p < hi || v < 0 && p > lo }
	panTilt = axis(h.pos.pan, h.vel.pan, -1, 1) || axis(h.pos.tilt, h.vel.tilt, -1, 1)
	zoom = axis(h.pos.zoom, h.vel.zoom, 0, 1)
	return panTilt, zoom
}

// status is the position and which axes move.
func (h *ptzHead) status() (pos vec, panTiltMoving, zoomMoving bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settle()
	pt, z := h.moving()
	return h.pos, pt, z
}

func (h *ptzHead) state() PTZState {
	pos, pt, z := h.status()
	return PTZState{Pan: pos.pan, Tilt: pos.tilt, Zoom: pos.zoom, Moving: pt || z}
}

// continuous starts moving at v (generic velocities, -1..1 per axis, one
// unit per second at 1) for timeout.
func (h *ptzHead) continuous(v vec, timeout time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.settle()
	h.vel = v
	h.until = now.Add(timeout)
	h.touched()
}

// stop ends the movement of the axes named.
func (h *ptzHead) stop(panTilt, zoom bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settle()
	if panTilt {
		h.vel.pan, h.vel.tilt = 0, 0
	}
	if zoom {
		h.vel.zoom = 0
	}
	h.touched()
}

// halt stops everything (a restart).
func (h *ptzHead) halt() { h.stop(true, true) }

// moveTo jumps to a position; nil axes keep theirs. Movement stops.
func (h *ptzHead) moveTo(pan, tilt, zoom *float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settle()
	h.vel = vec{}
	if pan != nil {
		h.pos.pan, h.pos.tilt = *pan, *tilt
	}
	if zoom != nil {
		h.pos.zoom = *zoom
	}
	h.pos = h.pos.clamped()
	h.touched()
}

// moveBy moves by a translation, clamped at the limits. Movement stops.
func (h *ptzHead) moveBy(d vec) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settle()
	h.vel = vec{}
	h.pos = vec{h.pos.pan + d.pan, h.pos.tilt + d.tilt, h.pos.zoom + d.zoom}.clamped()
	h.touched()
}

func (h *ptzHead) setHome() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settle()
	h.home = h.pos
}

func (h *ptzHead) goHome() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settle()
	h.vel = vec{}
	h.pos = h.home
	h.touched()
}

var (
	errNoPreset      = errors.New("no such preset")
	errPresetExists  = errors.New("a preset with that name exists")
	errTooManyPreset = fmt.Errorf("at most %d presets", maxPresets)
)

// setPreset saves the current position: into the preset token when given
// (it must exist), else into a new "preset_<n>". An empty name keeps the
// old one or, for a new preset, becomes the token.
func (h *ptzHead) setPreset(token, name string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settle()
	for _, p := range h.presets {
		if name != "" && p.name == name && p.token != token {
			return "", errPresetExists
		}
	}
	if token != "" {
		for i := range h.presets {
			if h.presets[i].token == token {
				h.presets[i].pos = h.pos
				if name != "" {
					h.presets[i].name = name
				}
				return token, nil
			}
		}
		return "", errNoPreset
	}
	if len(h.presets) >= maxPresets {
		return "", errTooManyPreset
	}
	token = fmt.Sprintf("preset_%d", h.nextPreset)
	h.nextPreset++
	if name == "" {
		name = token
	}
	h.presets = append(h.presets, preset{token: token, name: name, pos: h.pos})
	return token, nil
}

func (h *ptzHead) gotoPreset(token string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settle()
	for _, p := range h.presets {
		if p.token == token {
			h.vel = vec{}
			h.pos = p.pos
			h.touched()
			return nil
		}
	}
	return errNoPreset
}

func (h *ptzHead) removePreset(token string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, p := range h.presets {
		if p.token == token {
			h.presets = append(h.presets[:i], h.presets[i+1:]...)
			return nil
		}
	}
	return errNoPreset
}

func (h *ptzHead) listPresets() []preset {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]preset(nil), h.presets...)
}
