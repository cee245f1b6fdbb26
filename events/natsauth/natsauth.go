// Package natsauth is how Argus authenticates to NATS: the credentials an
// embedded server requires of its clients and routes, and what every Argus
// client presents. Without them, anyone who reaches the NATS port could
// append events, rewrite shard leases or register a fake node.
package natsauth

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"os"

	"github.com/argus-vms/argus/events/secret"
	"github.com/nats-io/nats.go"
)

// DerivedUser is the user of credentials derived from the cluster secret.
const DerivedUser = "argus"

// Config is one way to authenticate to NATS: a user and password, or a
// credentials file (nkeys/JWT; external NATS only), and TLS files.
type Config struct {
	User, Password string
	CredsFile      string
	// TLS: CAFile verifies the server (and, on an embedded server, routes
	// and client certificates); CertFile/KeyFile are this side's
	// certificate: the server's on an embedded server, a client
	// certificate otherwise.
	CAFile, CertFile, KeyFile string
}

// Derived is the user and password every node of a cluster derives from
// the same cluster secret, so embedded servers and their nodes agree on
// them without configuration; outside tools are given them explicitly.
func Derived(clusterSecret []byte) Config {
	return Config{User: DerivedUser, Password: DerivedPassword(clusterSecret)}
}

// DerivedPassword is the NATS password derived from the cluster secret.
func DerivedPassword(clusterSecret []byte) string {
	return base64.RawURLEncoding.EncodeToString(secret.Derive(clusterSecret, "nats/password/v1"))
}

// HasAuth: the config presents credentials.
func (c Config) HasAuth() bool { return c.User != "" || c.CredsFile != "" }

// HasTLS: TLS files are given.
func (c Config) HasTLS() bool { return c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" }

// Check reports a config that cannot work.
func (c Config) Check() error {
	switch {
	case c.User != "" && c.CredsFile != "":
		return errors.New("give either a NATS user and password or a credentials file, not both")
	case c.User == "" && c.Password != "":
		return errors.New("a NATS password needs a user")
	case c.User != "" && c.Password == "":
		return errors.New("a NATS user needs a password")
	case (c.CertFile == "") != (c.KeyFile == ""):
		return errors.New("a NATS TLS certificate and its key go together")
	}
	return nil
}

// ClientOptions are the nats.Connect options presenting c.
func (c Config) ClientOptions() ([]nats.Option, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case c.CredsFile != "":
		if _, err := os.Stat(c.CredsFile); err != nil {
			return nil, fmt.Errorf("nats credentials file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.HasTLS() {
		tc, err := c.clientTLS()
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}

func (c Config) clientTLS() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := secret.CertPool(c.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats TLS certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ServerTLS is an embedded server's TLS: for clients (a certificate is
// asked for and verified against the CA when one is given) and for routes
// (both ends present certificates of the CA). Nil without TLS files.
func (c Config) ServerTLS() (clients, routes *tls.Config, err error) {
	if !c.HasTLS() {
		return nil, nil, nil
	}
	if c.CertFile == "" {
		return nil, nil, errors.New("an embedded NATS server with TLS needs --nats-tls-cert and --nats-tls-key")
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("nats TLS certificate: %w", err)
	}
	clients = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	routes = clients.Clone()
	if c.CAFile != "" {
		pool, err := secret.CertPool(c.CAFile)
		if err != nil {
			return nil, nil, err
		}
		clients.ClientCAs, clients.ClientAuth = pool, tls.VerifyClientCertIfGiven
		routes.ClientCAs, routes.RootCAs, routes.ClientAuth = pool, pool, tls.RequireAndVerifyClientCert
	}
	return clients, routes, nil
}
