package e2e

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// Every device whose create was acknowledged (2xx) survives a kill -9 in
// the middle of a burst of creates.
func TestKillDuringCreateBurst(t *testing.T) {
	n := testenv.StartDev(t, testenv.NodeOptions{})
	var (
		mu     sync.Mutex
		acked  []string
		sent   atomic.Int64
		wg     sync.WaitGroup
		killed = make(chan struct{})
	)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				id := fmt.Sprintf("burst-%d-%d", w, i)
				sent.Add(1)
				st, _, _ := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"b","url":"rtsp://h/%d"}`, id, i))
				if st == 201 {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	for {
		mu.Lock()
		k := len(acked)
		mu.Unlock()
		if k >= 300 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	n.Kill()
	close(killed)
	wg.Wait()
	t.Logf("sent %d creates, %d acknowledged before kill -9", sent.Load(), len(acked))

	n.Restart()
	for _, id := range acked {
		if st, _, body := n.Do("GET", "/v1/devices/"+id, "", ""); st != 200 {
			t.Errorf("acknowledged device %s lost after restart: %d %s", id, st, body)
		}
	}
	// The log is consistent: each device has exactly one registration event.
	st, _, body := n.Do("GET", "/v1/devices?limit=1000", "", "")
	if st != 200 {
		t.Fatal(st, string(body))
	}
	l := decode[struct {
		Items []deviceJSON `json:"items"`
	}](t, body)
	for _, d := range l.Items {
		if d.Version != 1 {
			t.Errorf("device %s at version %d after one create", d.ID, d.Version)
		}
	}
	if len(l.Items) < len(acked) {
		t.Errorf("%d devices listed, %d acknowledged", len(l.Items), len(acked))
	}
}
