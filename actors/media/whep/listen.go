package whep

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// iceNet holds the sockets every session shares.
type iceNet struct {
	udpMux  ice.UDPMux
	udpAddr string
	tcpMux  ice.TCPMux
	tcpAddr string
}

func (n *iceNet) close() {
	if n.udpMux != nil {
		_ = n.udpMux.Close()
	}
	if n.tcpMux != nil {
		_ = n.tcpMux.Close()
	}
}

// listenICE binds the UDP and TCP mux ports of cfg.
func listenICE(cfg Config, logs pionLogs) (*iceNet, error) {
	n := &iceNet{}
	if cfg.UDPAddr != "" {
		mux, addr, err := listenUDPMux(cfg, logs)
		if err != nil {
			return nil, fmt.Errorf("whep: ICE UDP %s: %w", cfg.UDPAddr, err)
		}
		n.udpMux, n.udpAddr = mux, addr
	}
	if cfg.TCPAddr != "" {
		l, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			n.close()
			return nil, fmt.Errorf("whep: ICE TCP %s: %w", cfg.TCPAddr, err)
		}
		// 8 packets of read buffer per ICE-TCP connection, as in pion's
		// ice-tcp example and MediaMTX.
		n.tcpMux = webrtc.NewICETCPMux(logs.NewLogger("ice-tcp"), l, 8)
		n.tcpAddr = l.Addr().String()
	}
	return n, nil
}

// listenUDPMux binds the UDP port. A specific IP gets one socket. The
// wildcard gets one socket per local address (pion's MultiUDPMux): a
// wildcard socket would answer from whatever source address the routing
// table picks, which breaks ICE on multi-homed hosts.
func listenUDPMux(cfg Config, logs pionLogs) (ice.UDPMux, string, error) {
	host, portStr, err := net.SplitHostPort(cfg.UDPAddr)
	if err != nil {
		return nil, "", err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, "", fmt.Errorf("bad port %q", portStr)
	}
	ip := net.ParseIP(host)
	if host != "" && ip == nil {
		a, err := net.ResolveUDPAddr("udp", cfg.UDPAddr)
		if err != nil {
			return nil, "", err
		}
		ip = a.IP
	}
	if ip != nil && !ip.IsUnspecified() {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
		if err != nil {
			return nil, "", err
		}
		mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: logs.NewLogger("ice-udp"), UDPConn: conn})
		return mux, conn.LocalAddr().String(), nil
	}

	networks := []ice.NetworkType{ice.NetworkTypeUDP4, ice.NetworkTypeUDP6}
	if ip != nil && ip.To4() != nil { // "0.0.0.0"
		networks = networks[:1]
	}
	opts := []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithLogger(logs.NewLogger("ice-udp")),
		ice.UDPMuxFromPortWithNetworks(networks...),
	}
	if cfg.Loopback {
		opts = append(opts, ice.UDPMuxFromPortWithLoopback())
	}
	// Port 0 must be one port on every address: pick a free one on the
	// wildcard, then bind it per address (retried: another process may take
	// it in between).
	for attempt := 0; ; attempt++ {
		p := port
		if p == 0 {
			if p, err = freeUDPPort(); err != nil {
				return nil, "", err
			}
		}
		mux, err := ice.NewMultiUDPMuxFromPort(p, opts...)
		if err == nil {
			return mux, net.JoinHostPort(host, strconv.Itoa(p)), nil
		}
		if port != 0 || attempt == 4 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, "", err
		}
	}
}

func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
