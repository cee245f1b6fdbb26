package secret

import (
	"crypto/x509"
	"fmt"
	"os"
)

// CertPool reads a PEM file of CA certificates (the --…-tls-ca flags of
// NATS, the peer transport and ClickHouse).
func CertPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", file, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA %s: no PEM certificate in it", file)
	}
	return pool, nil
}
