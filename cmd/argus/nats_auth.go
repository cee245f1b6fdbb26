package main

import (
	"errors"
	"fmt"

	"github.com/argus-vms/argus/events/embedded"
	"github.com/argus-vms/argus/events/natsauth"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// natsFlags are the NATS credentials and TLS files of dev and serve.
type natsFlags struct {
	user, password, creds *string
	ca, cert, key         *string
}

func addNATSFlags(f flags) natsFlags {
	return natsFlags{
		user:     f.String("nats-user", "", "NATS user (embedded: required of every client and route; default \""+natsauth.DerivedUser+"\" with a password derived from the cluster secret)"),
		password: f.String("nats-password", "", "NATS password (never logged)"),
		creds:    f.String("nats-creds", "", "NATS credentials file (nkeys/JWT) for an external NATS"),
		ca:       f.String("nats-tls-ca", "", "CA (PEM) that verifies the NATS server, and on an embedded server its routes and client certificates"),
		cert:     f.String("nats-tls-cert", "", "TLS certificate (PEM): the embedded server's (clients and routes), or this node's client certificate for an external NATS"),
		key:      f.String("nats-tls-key", "", "key of --nats-tls-cert (PEM)"),
	}
}

// given is the explicit configuration.
func (n natsFlags) given() natsauth.Config {
	return natsauth.Config{User: *n.user, Password: *n.password, CredsFile: *n.creds, CAFile: *n.ca, CertFile: *n.cert, KeyFile: *n.key}
}

// natsTarget is where a node connects to NATS and how.
type natsTarget struct {
	url  string
	opts []nats.Option
}

// name is the target as logs show it.
func (t natsTarget) name() string {
	if t.url == "" {
		return "(embedded, in process)"
	}
	return t.url
}

// external is the target of `serve --nats`: the URLs with the explicit
// credentials (an external server's auth is its operator's).
func (n natsFlags) external(url string) (natsTarget, error) {
	opts, err := n.given().ClientOptions()
	if err != nil {
		return natsTarget{}, fmt.Errorf("--nats: %w", err)
	}
	return natsTarget{url: url, opts: opts}, nil
}

// embeddedServer fills o with what an embedded server requires: the given
// user and password, else those derived from the cluster secret, and the
// TLS files. The node connects from inside the process (no TLS there).
func (n natsFlags) embeddedServer(o *embedded.Options, clusterSecret string) error {
	c := n.given()
	if c.CredsFile != "" {
		return errors.New("--nats-creds is for an external NATS (--nats); an embedded server takes --nats-user and --nats-password")
	}
	if c.User == "" && c.Password == "" {
		if len(clusterSecret) < 16 {
			return errors.New("ARGUS_SECRET must be set (at least 16 characters), the same on every node: the embedded NATS credentials derive from it")
		}
		d := natsauth.Derived([]byte(clusterSecret))
		c.User, c.Password = d.User, d.Password
	}
	if err := c.Check(); err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	clients, routes, err := c.ServerTLS()
	if err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	o.User, o.Password, o.TLS, o.RouteTLS = c.User, c.Password, clients, routes
	return nil
}

// inProcess is the target of a node on its own embedded server.
func inProcess(ns *server.Server, o embedded.Options) natsTarget {
	return natsTarget{opts: []nats.Option{nats.InProcessServer(ns), nats.UserInfo(o.User, o.Password)}}
}
