package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/argus-vms/argus/events/pb"
)

// ptzSessions audits PTZ: moves are not recorded one by one, each key's
// session of moves on a channel is, as one device.ptz_session event when
// it ends. A node that dies loses its open sessions' records.
type ptzSessions struct {
	s    *Server
	idle time.Duration // a session ends this long after its last move
	mu   sync.Mutex
	open map[ptzSessionKey]*ptzSession
}

type ptzSessionKey struct {
	device string
	ch     int
	key    string
}

type ptzSession struct {
	start, last time.Time
	moves       uint32
}

func newPTZSessions(s *Server, idle time.Duration) *ptzSessions {
	if idle <= 0 {
		idle = 30 * time.Second
	}
	return &ptzSessions{s: s, idle: idle, open: map[ptzSessionKey]*ptzSession{}}
}

// moved counts one command of key on a channel, opening a session.
func (p *ptzSessions) moved(device string, ch int, key string) {
	now := time.Now()
	p.mu.Lock()
	k := ptzSessionKey{device, ch, key}
	ss := p.open[k]
	if ss == nil {
		ss = &ptzSession{start: now}
		p.open[k] = ss
	}
	ss.last, ss.moves = now, ss.moves+1
	first := len(p.open) == 1 && ss.moves == 1
	p.mu.Unlock()
	if first {
		go p.run()
	}
}

// run ends idle sessions until none is open.
func (p *ptzSessions) run() {
	tick := time.NewTicker(max(p.idle/6, 10*time.Millisecond))
	defer tick.Stop()
	for range tick.C {
		if p.flush(time.Now()) == 0 {
			return
		}
	}
}

// flush records the sessions idle for p.idle and answers how many stay open.
func (p *ptzSessions) flush(now time.Time) int {
	p.mu.Lock()
	var done []*pb.RecordPtz
	for k, ss := range p.open {
		if now.Sub(ss.last) >= p.idle {
			delete(p.open, k)
			done = append(done, &pb.RecordPtz{Id: k.device, Session: &pb.DevicePtzSession{Channel: uint32(k.ch), KeyId: k.key,
				StartedAtUnixMs: ss.start.UnixMilli(), EndedAtUnixMs: ss.last.UnixMilli(), Moves: ss.moves}})
		}
	}
	left := len(p.open)
	p.mu.Unlock()
	for _, cmd := range done {
		ctx, cancel := context.WithTimeout(context.Background(), p.s.timeout)
		r, err := p.s.devices.Ask(ctx, cmd.Id, cmd)
		cancel()
		if err != nil || r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
			p.s.log.Warn("ptz session not recorded", "device", cmd.Id, "channel", cmd.Session.Channel, "key_id", cmd.Session.KeyId,
				"moves", cmd.Session.Moves, "err", err, "code", r.GetCode().String())
		}
	}
	return left
}
