package bench

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkConsoleBundle: the web console's committed bundle, gzipped
// (issue 14: ≤ 300 kB), whole and without the lazily loaded hls.js chunk.
func BenchmarkConsoleBundle(b *testing.B) {
	_, file, _, _ := runtime.Caller(0)
	dist := filepath.Join(filepath.Dir(file), "..", "..", "gateway", "console", "dist")
	var total, lazy int
	err := filepath.WalkDir(dist, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		w.Write(raw)
		w.Close()
		total += z.Len()
		if strings.HasPrefix(d.Name(), "hls.") {
			lazy += z.Len()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	results.add("console bundle, gzipped (all of dist/)", fmt.Sprintf("%.1f kB", float64(total)/1000),
		fmt.Sprintf("%.1f kB before the first video (hls.js loads with it)", float64(total-lazy)/1000), "—", "≤ 300 kB")
}
