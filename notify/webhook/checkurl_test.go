package webhook

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCheckURL(t *testing.T) {
	for _, bad := range []string{
		"http://localhost", "http://localhost:8080/x", "http://LOCALHOST.", "http://api.localhost/",
		"http://169.254.169.254/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://10.1.2.3",
		"http://127.0.0.1:9/", "http://0.0.0.0/", "http://[::]/", "http://172.16.0.1/", "http://192.168.1.1/",
		"http://100.64.0.1/", "http://[fc00::1]/", "http://[fd12::1]/", "http://[fe80::1%25eth0]/", "http://224.0.0.1/",
		"http://[::ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/", "http://[64:ff9b::a01:203]/",
		"http://2130706433/", "http://0x7f000001/", "http://127.1/", "http://0x7f.1/",
		"ftp://x", "file:///etc/passwd", "gopher://example.com/", "example.com/hook", "http://", "http:///path",
		"http://user:pw@example.com", "http://user@example.com/", "http://example.com:0/", "http://example.com:99999/",
		"mailto:a@example.com",
	} {
		if err := CheckURL(bad, false); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	for _, ok := range []string{
		"https://hooks.example.com/argus", "http://example.com:8080/x?y=1", "https://93.184.216.34/",
		"https://[2606:2800:220:1:248:1893:25c8:1946]/", "https://[64:ff9b::5db8:d822]/", "https://x1.example/",
	} {
		if err := CheckURL(ok, false); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	// Private targets pass when allowed; malformed ones never do.
	for _, ok := range []string{"http://localhost:8080/", "http://10.1.2.3", "http://[::1]/", "http://169.254.169.254/"} {
		if err := CheckURL(ok, true); err != nil {
			t.Errorf("%s refused with allowPrivate: %v", ok, err)
		}
	}
	for _, bad := range []string{"ftp://x", "http://user:pw@example.com", "http://127.1/"} {
		if err := CheckURL(bad, true); err == nil {
			t.Errorf("%s accepted with allowPrivate", bad)
		}
	}
	if err := CheckURL("http://10.1.2.3", false); !errors.Is(err, ErrRefused) {
		t.Errorf("private literal: %v, want ErrRefused", err)
	}
}

func TestRefusedAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1": true, "127.255.0.1": true, "10.0.0.1": true, "172.31.255.255": true, "172.32.0.1": false,
		"192.168.0.1": true, "100.64.0.1": true, "100.128.0.1": false, "169.254.169.254": true, "0.0.0.0": true,
		"224.0.0.251": true, "255.255.255.255": true, "8.8.8.8": false, "::": true, "::1": true, "fc00::1": true,
		"fdff::1": true, "fe80::1": true, "ff02::1": true, "2001:4860:4860::8888": false, "::ffff:10.0.0.1": true,
		"::ffff:8.8.8.8": false, "64:ff9b::7f00:1": true, "64:ff9b::808:808": false,
	} {
		if got := refusedAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("refusedAddr(%s) = %v, want %v", s, got, want)
		}
	}
}
