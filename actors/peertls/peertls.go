// Package peertls is the identity of the node-to-node actor transport
// (hollywood remote): mutual TLS where each end proves it holds a
// certificate of the cluster's CA. Without it, anything that reaches the
// peer port could deliver a RemoveDevice or SetPlan to an actor with no
// API key.
//
// By default the CA derives from the cluster secret: its Ed25519 key is a
// subkey of ARGUS_SECRET, so every node of a cluster builds the same CA and
// a node with another secret cannot join. Each node signs a fresh key of
// its own at start. A CA and certificates may be given as files instead.
package peertls

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/argus-vms/argus/events/secret"
)

// FromSecret is the transport's TLS with the CA derived from the cluster
// secret and a certificate for node signed by it.
func FromSecret(clusterSecret []byte, node string) (*tls.Config, error) {
	if len(clusterSecret) < 16 {
		return nil, errors.New("peertls: cluster secret must be at least 16 bytes")
	}
	caKey := ed25519.NewKeyFromSeed(secret.Derive(clusterSecret, "peer/ca/v1"))
	ca, err := caCertificate(caKey)
	if err != nil {
		return nil, err
	}
	cert, err := nodeCertificate(ca, caKey, node)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return config(pool, cert), nil
}

// FromFiles is the transport's TLS from PEM files: the CA that signed
// every node's certificate, and this node's certificate and key.
func FromFiles(caFile, certFile, keyFile string) (*tls.Config, error) {
	pool, err := secret.CertPool(caFile)
	if err != nil {
		return nil, fmt.Errorf("peertls: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("peertls: certificate: %w", err)
	}
	return config(pool, cert), nil
}

// config: both ends present a certificate and verify the other's chain
// to the CA. Nodes dial each other by whatever address they advertise, so
// the identity checked is the CA's signature, not a host name.
func config(pool *x509.CertPool, cert tls.Certificate) *tls.Config {
	verify := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("peertls: the peer presented no certificate")
		}
		opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return fmt.Errorf("peertls: peer certificate not of this cluster: %w", err)
		}
		return nil
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
		// The chain is verified in VerifyConnection, on both ends.
		InsecureSkipVerify: true,
		VerifyConnection:   verify,
	}
}

// caCertificate is the self-signed CA of caKey; every field is fixed, so
// every node builds the same one.
func caCertificate(caKey ed25519.PrivateKey) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "argus peer CA"},
		NotBefore:             time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2124, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("peertls: CA: %w", err)
	}
	return x509.ParseCertificate(der)
}

// nodeCertificate signs a fresh key for node.
func nodeCertificate(ca *x509.Certificate, caKey ed25519.PrivateKey, node string) (tls.Certificate, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: node},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("peertls: node certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, nil
}
