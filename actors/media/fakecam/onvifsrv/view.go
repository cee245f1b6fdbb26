package onvifsrv

import (
	"context"
	"time"
)

// viewInterval is the shortest time between two rounds of OnView calls:
// a continuous move is reported about 4 times a second.
const viewInterval = 250 * time.Millisecond

// view is what one profile's picture shows.
type view struct {
	pan, tilt, zoom float64
	motion          bool
}

// viewReporter tells Options.OnView what each profile shows.
type viewReporter struct {
	// kick (capacity 1) says something may have changed: the PTZ head and
	// the event hubs signal it.
	kick chan struct{}

	// Used by one view loop at a time: a restart's loop starts after the
	// previous run's has ended.
	last  map[string]view // by profile token, as last reported
	round time.Time       // of the last round
}

// signal wakes the view loop; it never blocks.
func (v *viewReporter) signal() {
	select {
	case v.kick <- struct{}{}:
	default:
	}
}

// viewLoop reports every profile's view to OnView at the start and after
// every change, polling at viewInterval while the PTZ head moves. It runs
// for one run (h is its hub, which holds the motion state).
func (s *Server) viewLoop(ctx context.Context, h *hub) {
	vr := &s.views
	if vr.last == nil {
		vr.last = make(map[string]view, len(s.chans))
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		if wait := viewInterval - time.Since(vr.round); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		select { // this round sees what a pending kick announced
		case <-vr.kick:
		default:
		}
		vr.round = time.Now()
		var poll <-chan time.Time
		if s.reportViews(h) {
			timer.Reset(viewInterval)
			poll = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-vr.kick:
			timer.Stop() // Go ≥ 1.23: no stale tick is left to drain
		case <-poll:
		}
	}
}

// reportViews calls OnView for each profile whose view differs from the
// last one reported, and says whether the head is moving.
func (s *Server) reportViews(h *hub) (moving bool) {
	var pos PTZState
	if s.ptz != nil {
		pos = s.ptz.state()
	}
	for _, ch := range s.chans {
		v := view{pan: pos.Pan, tilt: pos.Tilt, zoom: pos.Zoom, motion: h.motionOf(ch.sourceConfToken)}
		if old, ok := s.views.last[ch.Token]; ok && old == v {
			continue
		}
		s.views.last[ch.Token] = v
		s.o.OnView(ch.Token, v.pan, v.tilt, v.zoom, v.motion)
	}
	return pos.Moving
}
