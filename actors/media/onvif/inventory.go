package onvif

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
)

// Inventory is what a camera says it has: who it is and, per video source
// (a channel), its main and sub streams, snapshot and PTZ.
type Inventory struct {
	Info     DeviceInfo
	Channels []Channel
}

// Channel is one video source of a camera: its first profile is the main
// stream, a second one (lower resolution, usually) the sub stream.
type Channel struct {
	VideoSource  string
	SourceConfig string // the main profile's video source configuration token
	Profile      string
	StreamURI    string // without credentials
	SubProfile   string
	SubStreamURI string
	SnapshotURI  string
	PTZ          bool
	Width        int
	Height       int
}

// ReadInventory connects to the camera at deviceURL and reads its device
// information, profiles and their stream and snapshot URIs. Video sources
// keep the order of their first profile; within a source the profile with
// the largest picture is the main one. A camera without a snapshot URI is
// not an error (snapshots then come from the stream).
func ReadInventory(ctx context.Context, deviceURL string, o Options) (Inventory, error) {
	c, err := New(deviceURL, o)
	if err != nil {
		return Inventory{}, err
	}
	if err := c.Connect(ctx); err != nil {
		return Inventory{}, err
	}
	var inv Inventory
	if inv.Info, err = c.DeviceInformation(ctx); err != nil {
		return Inventory{}, err
	}
	profiles, err := c.Profiles(ctx)
	if err != nil {
		return Inventory{}, err
	}
	var order []string
	bySource := map[string][]Profile{}
	for _, p := range profiles {
		src := p.VideoSourceToken
		if src == "" {
			src = p.Token // a profile without a source stands for itself
		}
		if _, ok := bySource[src]; !ok {
			order = append(order, src)
		}
		bySource[src] = append(bySource[src], p)
	}
	for _, src := range order {
		ps := bySource[src]
		slices.SortStableFunc(ps, func(a, b Profile) int { return b.Width*b.Height - a.Width*a.Height })
		ch := Channel{VideoSource: src, SourceConfig: ps[0].VideoSourceConfigToken, Profile: ps[0].Token, PTZ: ps[0].HasPTZ, Width: ps[0].Width, Height: ps[0].Height}
		if ch.StreamURI, err = c.StreamURI(ctx, ps[0].Token); err != nil {
			return Inventory{}, err
		}
		ch.StreamURI = withoutUserinfo(ch.StreamURI)
		if len(ps) > 1 {
			ch.SubProfile = ps[1].Token
			if ch.SubStreamURI, err = c.StreamURI(ctx, ps[1].Token); err != nil {
				return Inventory{}, err
			}
			ch.SubStreamURI = withoutUserinfo(ch.SubStreamURI)
		}
		if snap, err := c.SnapshotURI(ctx, ps[0].Token); err == nil {
			ch.SnapshotURI = withoutUserinfo(snap)
		} else if errors.Is(err, ErrUnauthorized) || ctx.Err() != nil {
			return Inventory{}, err
		}
		inv.Channels = append(inv.Channels, ch)
	}
	return inv, nil
}

// withoutUserinfo drops credentials some cameras put into the URIs they
// hand out: the device's own are used, and kept out of the log.
func withoutUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// Describe is err for a problem shown to an API caller: the network
// error's operation and address, or the error itself (errors of this
// package never hold a password).
func Describe(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		if op.Addr != nil {
			return op.Op + " " + op.Addr.String() + ": " + op.Err.Error()
		}
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}
