package onvifsrv

import (
	"cmp"
	"math"
	"strconv"
)

// The PTZ service's moves: continuous, absolute, relative, stop, home.

// vectorArg reads a PTZVector (PanTilt x y, Zoom x) of the spaces given;
// absent parts are nil. Values outside lo..hi get an InvalidArgVal fault
// with subcode outside (ter:InvalidPosition, ter:InvalidVelocity…).
func vectorArg(e *elem, ptSpace, zSpace string, ptLo, ptHi, zLo, zHi float64, outside string) (pan, tilt, zoom *float64, err error) {
	if pt := e.child("PanTilt"); pt != nil {
		if sp, ok := pt.attr("space"); ok && sp != ptSpace {
			return nil, nil, nil, faultInvalidArgVal("ter:SpaceNotSupported", "pan/tilt space "+quoteToken(sp)+" is not supported")
		}
		x, err1 := coordinate(pt, "x", ptLo, ptHi, outside)
		y, err2 := coordinate(pt, "y", ptLo, ptHi, outside)
		if err := cmp.Or(err1, err2); err != nil {
			return nil, nil, nil, err
		}
		pan, tilt = &x, &y
	}
	if z := e.child("Zoom"); z != nil {
		if sp, ok := z.attr("space"); ok && sp != zSpace {
			return nil, nil, nil, faultInvalidArgVal("ter:SpaceNotSupported", "zoom space "+quoteToken(sp)+" is not supported")
		}
		x, err := coordinate(z, "x", zLo, zHi, outside)
		if err != nil {
			return nil, nil, nil, err
		}
		zoom = &x
	}
	return pan, tilt, zoom, nil
}

func coordinate(e *elem, attr string, lo, hi float64, outside string) (float64, error) {
	s, ok := e.attr(attr)
	if !ok {
		return 0, faultInvalidArgs(e.Name.Local + " has no " + attr)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, faultInvalidArgs(e.Name.Local + " " + attr + "=" + quoteToken(s) + " is not a number")
	}
	if v < lo || v > hi {
		return 0, faultInvalidArgVal(outside, e.Name.Local+" "+attr+"="+s+" is outside "+ftoa(lo)+".."+ftoa(hi))
	}
	return v, nil
}

func orZero(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func (c *call) continuousMove() (node, error) {
	if _, err := c.profileArg(); err != nil {
		return node{}, err
	}
	pan, tilt, zoom, err := vectorArg(c.op.child("Velocity"), spacePanTiltVelocity, spaceZoomVelocity, -1, 1, -1, 1, "ter:InvalidVelocity")
	if err != nil {
		return node{}, err
	}
	timeout := defaultPTZTimeout
	if t := c.op.child("Timeout"); t != nil {
		d, err := parseXSDuration(t.text())
		if err != nil || d <= 0 {
			return node{}, faultInvalidArgVal("ter:TimeoutNotSupported", "Timeout "+quoteToken(t.text())+" is not a positive xs:duration")
		}
		timeout = min(d, maxPTZTimeout)
	}
	// An axis without a velocity stays still.
	c.s.ptz.continuous(vec{orZero(pan), orZero(tilt), orZero(zoom)}, timeout)
	return el("tptz:ContinuousMoveResponse"), nil
}

func (c *call) absoluteMove() (node, error) {
	if _, err := c.profileArg(); err != nil {
		return node{}, err
	}
	pos := c.op.child("Position")
	if pos == nil {
		return node{}, faultInvalidArgs("AbsoluteMove without a Position")
	}
	pan, tilt, zoom, err := vectorArg(pos, spacePanTiltPosition, spaceZoomPosition, -1, 1, 0, 1, "ter:InvalidPosition")
	if err != nil {
		return node{}, err
	}
	c.s.ptz.moveTo(pan, tilt, zoom)
	return el("tptz:AbsoluteMoveResponse"), nil
}

func (c *call) relativeMove() (node, error) {
	if _, err := c.profileArg(); err != nil {
		return node{}, err
	}
	tr := c.op.child("Translation")
	if tr == nil {
		return node{}, faultInvalidArgs("RelativeMove without a Translation")
	}
	pan, tilt, zoom, err := vectorArg(tr, spacePanTiltTranslation, spaceZoomTranslation, -1, 1, -1, 1, "ter:InvalidTranslation")
	if err != nil {
		return node{}, err
	}
	c.s.ptz.moveBy(vec{orZero(pan), orZero(tilt), orZero(zoom)})
	return el("tptz:RelativeMoveResponse"), nil
}

func (c *call) stop() (node, error) {
	if _, err := c.profileArg(); err != nil {
		return node{}, err
	}
	pt, err1 := boolArg(c.op, "PanTilt", true)
	z, err2 := boolArg(c.op, "Zoom", true)
	if err := cmp.Or(err1, err2); err != nil {
		return node{}, err
	}
	c.s.ptz.stop(pt, z)
	return el("tptz:StopResponse"), nil
}

func (c *call) gotoHomePosition() (node, error) {
	if _, err := c.profileArg(); err != nil {
		return node{}, err
	}
	c.s.ptz.goHome()
	return el("tptz:GotoHomePositionResponse"), nil
}

func (c *call) setHomePosition() (node, error) {
	if _, err := c.profileArg(); err != nil {
		return node{}, err
	}
	c.s.ptz.setHome()
	return el("tptz:SetHomePositionResponse"), nil
}
