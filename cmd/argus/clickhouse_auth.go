package main

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"

	"github.com/argus-vms/argus/events/secret"
	"github.com/argus-vms/argus/projections"
)

// derivedClickHousePassword is the password dev gives its own
// clickhouse-server child: derived from the cluster secret, so nothing
// else on the machine reads the projections without it.
func derivedClickHousePassword(clusterSecret string) string {
	return base64.RawURLEncoding.EncodeToString(secret.Derive([]byte(clusterSecret), "clickhouse/password/v1"))
}

// clickHouseConnect is how the node connects to ClickHouse: its user and
// password, and TLS when asked for.
func clickHouseConnect(cfg *nodeConfig) ([]projections.ConnectOption, error) {
	opts := []projections.ConnectOption{projections.WithAuth(*cfg.chUser, *cfg.chPassword)}
	if *cfg.chTLSCA != "" && !*cfg.chTLS {
		return nil, fmt.Errorf("--clickhouse-tls-ca needs --clickhouse-tls")
	}
	if *cfg.chTLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if *cfg.chTLSCA != "" {
			pool, err := secret.CertPool(*cfg.chTLSCA)
			if err != nil {
				return nil, fmt.Errorf("--clickhouse-tls-ca: %w", err)
			}
			tc.RootCAs = pool
		}
		opts = append(opts, projections.WithTLS(tc))
	}
	return opts, nil
}
