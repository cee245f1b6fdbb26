package relay

import (
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
)

// Grant is what Authorize lets a reader have: the session ends at Until
// (zero: no end) or as soon as Check fails (e.g. the key that minted the
// reader's token was deleted; nil: nothing to check again).
type Grant struct {
	Until time.Time
	Check func() error
	// Viewer names who holds the grant (an API key id) in Config.Viewed.
	Viewer string
}

// grantCheckEvery is how often the sessions' grants are checked again.
const grantCheckEvery = 500 * time.Millisecond

// holds reports whether g still holds at now.
func (g Grant) holds(now time.Time) bool {
	if !g.Until.IsZero() && now.After(g.Until) {
		return false
	}
	return g.Check == nil || g.Check() == nil
}

// sessionGrants are the grants of the sessions being served.
type sessionGrants struct {
	mu sync.Mutex
	m  map[*gortsplib.ServerSession]Grant
}

func (g *sessionGrants) set(s *gortsplib.ServerSession, gr Grant) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[*gortsplib.ServerSession]Grant{}
	}
	g.m[s] = gr
}

func (g *sessionGrants) drop(s *gortsplib.ServerSession) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.m, s)
}

// lapsed returns (and forgets) the sessions whose grant no longer holds.
func (g *sessionGrants) lapsed(now time.Time) []*gortsplib.ServerSession {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*gortsplib.ServerSession
	for s, gr := range g.m {
		if !gr.holds(now) {
			out = append(out, s)
			delete(g.m, s)
		}
	}
	return out
}

// endLapsedSessions closes every session whose grant lapsed, until the
// server closes.
func (s *Server) endLapsedSessions() {
	t := time.NewTicker(grantCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			for _, sess := range s.grants.lapsed(now) {
				s.log.Info("reader session ended: its token expired or was revoked", "path", sess.Path())
				sess.Close()
			}
		}
	}
}
