package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

// HTTPS and RTSPS, read by real clients: curl trusting the CA, and ffprobe
// over RTSPS (interleaved TCP inside TLS).
func TestHTTPSAndRTSPS(t *testing.T) {
	cam := startCam(t, fakecam.Options{Paths: []string{"cam1"}})
	certs := testenv.NewCerts(t)
	rtsps := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	n := testenv.StartDev(t, testenv.NodeOptions{TLS: &certs, Args: []string{"--rtsps", rtsps}})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"sec","name":"s","url":%q}`, cam.URL("cam1"))); st != 201 {
		t.Fatalf("create over HTTPS: %d %s", st, body)
	}
	out, err := exec.Command("curl", "-sS", "--fail", "--cacert", certs.CA, "-H", "Authorization: Bearer "+n.AdminKey, n.HTTP+"/v1/devices/sec").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"id":"sec"`) {
		t.Fatalf("curl over HTTPS: %v %s", err, out)
	}
	if out, err := exec.Command("curl", "-sS", "--fail", strings.Replace(n.HTTP, "https", "http", 1)+"/healthz").CombinedOutput(); err == nil {
		t.Errorf("plain HTTP answered on the HTTPS port: %s", out)
	}

	st, _, body := n.Do("GET", "/v1/devices/sec/channels/1/live", "", "")
	u := decode[struct {
		RTSPS string `json:"rtsps_url"`
		HLS   string `json:"hls_url"`
	}](t, body)
	if st != 200 || !strings.HasPrefix(u.RTSPS, "rtsps://127.0.0.1:") || !strings.HasPrefix(u.HLS, "https://") {
		t.Fatalf("live URLs over TLS: %d %s", st, body)
	}
	// ffmpeg does not verify RTSPS certificates by default (tls_verify=0).
	if got, err := ffprobe(t, u.RTSPS); err != nil || got != "h264x640x360" {
		t.Fatalf("ffprobe over RTSPS: %v %q", err, got)
	}
}
