// Package bench measures Argus next to baselines taken in the same run:
// these machines are shared and noisy, so ratios hold where absolute
// figures don't. Run with `make bench`.
package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// report collects figure lines and prints them as one table at the end.
type report struct {
	mu    sync.Mutex
	lines []string
}

var results report

func (r *report) add(name, value, baseline, ratio, goal string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf("| %s | %s | %s | %s | %s |", name, value, baseline, ratio, goal))
	fmt.Fprintf(os.Stderr, "bench: %s = %s (baseline %s, ratio %s, goal %s)\n", name, value, baseline, ratio, goal)
}

func (r *report) print() {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Println()
	fmt.Println("| figure | value | baseline (same run) | ratio | goal |")
	fmt.Println("|---|---|---|---|---|")
	fmt.Println(strings.Join(r.lines, "\n"))
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(float64(len(d)-1) * p)
	return d[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
