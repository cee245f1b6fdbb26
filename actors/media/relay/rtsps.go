package relay

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
)

// RTSPS is served by the same gortsplib server as RTSP: a second TCP
// listener whose connections are TLS-terminated here, merged into the one
// listener gortsplib accepts from, so both share streams, sessions and
// grants. Media of an RTSPS session travels inside the TLS connection
// (interleaved TCP); a SETUP asking for UDP over it is refused, since
// those packets would travel in clear.

// mergedListener accepts from several listeners.
type mergedListener struct {
	lns   []net.Listener
	conns chan net.Conn
	errs  chan error
	once  sync.Once
	done  chan struct{}
}

func mergeListeners(lns ...net.Listener) *mergedListener {
	m := &mergedListener{lns: lns, conns: make(chan net.Conn), errs: make(chan error, len(lns)), done: make(chan struct{})}
	for _, ln := range lns {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					m.errs <- err
					return
				}
				select {
				case m.conns <- c:
				case <-m.done:
					c.Close()
					return
				}
			}
		}()
	}
	return m
}

func (m *mergedListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case err := <-m.errs:
		return nil, err
	case <-m.done:
		return nil, net.ErrClosed
	}
}

func (m *mergedListener) Close() error {
	var errs []error
	m.once.Do(func() {
		close(m.done)
		for _, ln := range m.lns {
			errs = append(errs, ln.Close())
		}
	})
	return errors.Join(errs...)
}

// Addr is the first (plain RTSP) listener's address.
func (m *mergedListener) Addr() net.Addr { return m.lns[0].Addr() }

// isTLS reports whether a connection came through the RTSPS listener.
func isTLS(c net.Conn) bool {
	_, ok := c.(*tls.Conn)
	return ok
}
