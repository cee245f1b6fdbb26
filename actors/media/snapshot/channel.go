package snapshot

import (
	"context"
	"fmt"
)

// ChannelSource is where a channel's picture comes from: the camera's own
// snapshot URI (with the device's credentials) when it has one, else the
// relay's latest keyframe of the channel's stream.
type ChannelSource struct {
	Key                     string // the channel, "<device>~<ch>": grabs of one key are shared
	URL, Username, Password string // "" URL: the camera has none
	Keyframe                func(ctx context.Context) ([]byte, error)
}

// KeyframeError: the channel's stream gave no keyframe to decode.
type KeyframeError struct{ Err error }

func (e *KeyframeError) Error() string { return fmt.Sprintf("no picture from the camera: %v", e.Err) }
func (e *KeyframeError) Unwrap() error { return e.Err }

// Channel is the one way Argus takes a channel's picture (the snapshot API,
// alarms): the camera's URI, and when there is none or it fails, the
// stream's keyframe decoded. When both fail the camera's error is returned
// (it says more), else a *KeyframeError.
func (g *Grabber) Channel(ctx context.Context, src ChannelSource, width int) ([]byte, error) {
	var camErr error
	if src.URL != "" {
		jpg, err := g.FromURL(ctx, src.Key, src.URL, src.Username, src.Password, width)
		if err == nil {
			return jpg, nil
		}
		camErr = err
	}
	annexB, err := src.Keyframe(ctx)
	if err != nil {
		if camErr != nil {
			return nil, camErr
		}
		return nil, &KeyframeError{Err: err}
	}
	return g.FromKeyframe(ctx, src.Key, annexB, width)
}
