package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/argus-vms/argus/notify/mqtt"
	"github.com/argus-vms/argus/notify/outputs"
	"github.com/argus-vms/argus/notify/payload"
	"github.com/nats-io/nats.go"
)

// busOutputs are the MQTT and NATS outputs the flags ask for.
func busOutputs(cfg *nodeConfig, nc *nats.Conn) ([]outputs.Output, error) {
	var outs []outputs.Output
	if *cfg.mqttURL != "" {
		filter, err := filters("--mqtt-events", *cfg.mqttEvents)
		if err != nil {
			return nil, err
		}
		o := mqtt.Options{URL: *cfg.mqttURL, Username: *cfg.mqttUser, Password: *cfg.mqttPassword, ClientID: "argus-" + *cfg.nodeID}
		if *cfg.mqttCA != "" {
			pem, err := os.ReadFile(*cfg.mqttCA)
			if err != nil {
				return nil, fmt.Errorf("--mqtt-tls-ca: %w", err)
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				return nil, errors.New("--mqtt-tls-ca: no certificate in the file")
			}
			o.TLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		}
		outs = append(outs, outputs.MQTT(o, filter))
	}
	if *cfg.natsOut != "" {
		filter, err := filters("--nats-out", *cfg.natsOut)
		if err != nil {
			return nil, err
		}
		outs = append(outs, outputs.NATS(nc, filter))
	}
	return outs, nil
}

// filters parses a comma-separated list of event filters.
func filters(flag, v string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !payload.ValidFilter(f) {
			return nil, fmt.Errorf("%s: %q is not an event filter (an event type such as device.offline, a prefix such as alarm.*, or *)", flag, f)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no event filter", flag)
	}
	return out, nil
}
