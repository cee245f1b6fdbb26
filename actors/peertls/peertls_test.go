package peertls

import (
	"crypto/tls"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/anthdm/hollywood/remote"
)

// handshake runs a TLS handshake between a server and a client config
// over loopback and returns the server side's error.
func handshake(t *testing.T, srv, cli *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		errc <- c.(*tls.Conn).Handshake()
	}()
	var c net.Conn
	if cli != nil {
		c, err = tls.Dial("tcp", ln.Addr().String(), cli)
	} else {
		c, err = net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Write([]byte("not tls at all\r\n"))
		}
	}
	if err == nil {
		defer c.Close()
	}
	return <-errc
}

func TestSameSecretTrustsOtherSecretDoesNot(t *testing.T) {
	a, err := FromSecret([]byte("cluster-secret-0123456789"), "a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := FromSecret([]byte("cluster-secret-0123456789"), "b")
	other, _ := FromSecret([]byte("another-secret-0123456789"), "x")
	if err := handshake(t, a, b); err != nil {
		t.Fatalf("two nodes of one cluster: %v", err)
	}
	if err := handshake(t, a, other); err == nil {
		t.Fatal("a node with another secret was accepted")
	}
	noCert := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
	if err := handshake(t, a, noCert); err == nil {
		t.Fatal("a client without a certificate was accepted")
	}
	if err := handshake(t, a, nil); err == nil {
		t.Fatal("plain TCP was accepted")
	}
}

// counter counts what reaches it.
type counter struct{ n *atomic.Int64 }

func (c counter) Receive(ctx *actor.Context) {
	if _, ok := ctx.Message().(*actor.PID); ok { // any remote message (PID is a registered proto)
		c.n.Add(1)
	}
}

func engine(t *testing.T, cfg remote.Config) (*actor.Engine, string) {
	t.Helper()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	r := remote.New(addr, cfg)
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop().Wait() })
	return e, addr
}

// Through hollywood's own transport: a message from a node of the cluster
// reaches the actor, one from an engine without the cluster's certificate
// (plain, or another secret's) never does.
func TestOnlyClusterNodesReachActors(t *testing.T) {
	secret := []byte("cluster-secret-0123456789")
	srvTLS, _ := FromSecret(secret, "srv")
	srv, srvAddr := engine(t, remote.NewConfig().WithTLS(srvTLS))
	var got atomic.Int64
	srv.Spawn(func() actor.Receiver { return counter{&got} }, "target", actor.WithID("one"))
	target := actor.NewPID(srvAddr, "target/one")

	plain, _ := engine(t, remote.NewConfig())
	otherTLS, _ := FromSecret([]byte("another-secret-0123456789"), "x")
	other, _ := engine(t, remote.NewConfig().WithTLS(otherTLS))
	for range 3 {
		plain.Send(target, actor.NewPID("x", "y"))
		other.Send(target, actor.NewPID("x", "y"))
	}
	time.Sleep(1500 * time.Millisecond)
	if n := got.Load(); n != 0 {
		t.Fatalf("%d messages from outside the cluster reached the actor", n)
	}

	peerTLS, _ := FromSecret(secret, "peer")
	peer, _ := engine(t, remote.NewConfig().WithTLS(peerTLS))
	peer.Send(target, actor.NewPID("x", "y"))
	deadline := time.Now().Add(5 * time.Second)
	for got.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a node of the cluster could not reach the actor")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
