// Package motion detects motion on a live channel by itself: ffmpeg decodes
// the channel's H264 access units to small grey frames a few times a
// second (run.go) and a frame-difference detector in Go turns them into
// Start and End events (detector.go).
package motion

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Limits of a Config.
const (
	MaxZones       = 16
	MaxMinDuration = time.Minute
	MaxCooldown    = 10 * time.Minute

	// DefaultSensitivity and DefaultCooldown replace zero values.
	DefaultSensitivity = 0.5
	DefaultCooldown    = 2 * time.Second
)

// Config is a channel's motion settings (PUT
// /v1/devices/{id}/channels/{ch}/motion).
type Config struct {
	// Sensitivity, 0..1 (0: DefaultSensitivity): higher = smaller changes
	// count, both per pixel and in the share of the zones that must change.
	Sensitivity float64
	// Zones are rectangles x, y, w, h in 0..1 of the picture; only their
	// pixels count. Empty: the whole picture.
	Zones [][4]float64
	// MinDuration: motion must last this long (in consecutive changed
	// frames) before the Start event; 0 = the first changed frame starts.
	MinDuration time.Duration
	// Cooldown: this long without a changed frame ends the motion (End
	// event); 0 = DefaultCooldown.
	Cooldown time.Duration
}

// Validate checks c against the limits; field names the JSON member at
// fault: "sensitivity", "zones", "min_duration_ms" or "cooldown_ms".
func (c Config) Validate() (field string, err error) {
	if math.IsNaN(c.Sensitivity) || c.Sensitivity < 0 || c.Sensitivity > 1 {
		return "sensitivity", fmt.Errorf("motion: sensitivity %v is not within 0..1", c.Sensitivity)
	}
	if len(c.Zones) > MaxZones {
		return "zones", fmt.Errorf("motion: %d zones, at most %d", len(c.Zones), MaxZones)
	}
	for i, z := range c.Zones {
		if err := validZone(z); err != nil {
			return "zones", fmt.Errorf("motion: zones[%d] %v: %w", i, z, err)
		}
	}
	if c.MinDuration < 0 || c.MinDuration > MaxMinDuration {
		return "min_duration_ms", fmt.Errorf("motion: min duration %v is not within 0..%v", c.MinDuration, MaxMinDuration)
	}
	if c.Cooldown < 0 || c.Cooldown > MaxCooldown {
		return "cooldown_ms", fmt.Errorf("motion: cooldown %v is not within 0..%v", c.Cooldown, MaxCooldown)
	}
	return "", nil
}

// eps tolerates rounding in zones computed by clients (0.1+0.9 > 1).
const eps = 1e-9

func validZone(z [4]float64) error {
	for _, v := range z {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("not a number")
		}
	}
	x, y, w, h := z[0], z[1], z[2], z[3]
	switch {
	case w <= 0 || h <= 0:
		return errors.New("width and height must be > 0")
	case x < 0 || y < 0 || x+w > 1+eps || y+h > 1+eps:
		return errors.New("not inside the picture (0..1)")
	}
	return nil
}

// withDefaults replaces zero values by their defaults.
func (c Config) withDefaults() Config {
	if c.Sensitivity == 0 {
		c.Sensitivity = DefaultSensitivity
	}
	if c.Cooldown == 0 {
		c.Cooldown = DefaultCooldown
	}
	return c
}

// pixelThreshold is the grey-level difference a pixel must exceed to count
// as changed: 60 at sensitivity 0 down to 10 at 1. Below 10 the flicker of
// compression (a frame's quantisation, an IDR's refresh) would count; the
// downscale averages ~100 source pixels per grid pixel, which already
// removes sensor noise.
func pixelThreshold(s float64) int { return int(math.Round(60 - 50*s)) }

// changedFraction is the share of the zones' pixels that must change for
// a frame to be a motion frame: 5 % at sensitivity 0 down to 0.2 % at 1,
// geometrically (1 % at the default 0.5), since what matters is the
// object's size relative to the picture, a ratio.
func changedFraction(s float64) float64 { return 0.05 * math.Pow(0.002/0.05, s) }
