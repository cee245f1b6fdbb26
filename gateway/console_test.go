package gateway

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// consoleSourceHash computes what gateway/console/scripts/source-hash.mjs
// writes into dist/.source-hash: sha256 over path + "\0" + hex(sha256(file))
// + "\n" for the build's inputs (the top-level files below and everything
// under src/), paths relative to gateway/console, sorted bytewise.
func consoleSourceHash(t *testing.T, root string) string {
	t.Helper()
	files := []string{"package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "index.html"}
	err := filepath.WalkDir(filepath.Join(root, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		io.WriteString(h, f+"\x00"+hex.EncodeToString(sum[:])+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestConsoleBundleFresh fails when the committed bundle (console/dist) was
// not rebuilt after a change to the console's sources or lockfile.
func TestConsoleBundleFresh(t *testing.T) {
	want, err := os.ReadFile("console/dist/.source-hash")
	if err != nil {
		t.Fatalf("console/dist/.source-hash: %v (run `make console`)", err)
	}
	if got := consoleSourceHash(t, "console"); got != strings.TrimSpace(string(want)) {
		t.Fatalf("the console bundle is stale: sources hash %s, dist/.source-hash says %s; run `make console` and commit gateway/console/dist",
			got, strings.TrimSpace(string(want)))
	}
}

func consoleGet(t *testing.T, h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func checkConsoleHeaders(t *testing.T, w *httptest.ResponseRecorder, path string) {
	t.Helper()
	csp := w.Header().Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "media-src 'self' blob:",
		"connect-src 'self'", "img-src 'self' data:", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: CSP %q lacks %q", path, csp, d)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("%s: CSP %q allows unsafe sources", path, csp)
	}
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", path, k, got, v)
		}
	}
}

func TestConsoleRoutes(t *testing.T) {
	h := New(Config{AdminKey: testAdminKey, Node: "n1", Log: quietLog}).Handler()
	index, err := os.ReadFile("console/dist/index.html")
	if err != nil {
		t.Fatal(err)
	}

	// The page itself and every deep link under /console/ get index.html, never cached.
	for _, p := range []string{"/console/", "/console/login", "/console/devices", "/console/devices/cam-1",
		"/console/devices/cam-1?ch=2", "/console/live?layout=9", "/console/no/such/page"} {
		w := consoleGet(t, h, p)
		if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), index) {
			t.Errorf("GET %s: %d, index.html served: %v", p, w.Code, bytes.Equal(w.Body.Bytes(), index))
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", p, cc)
		}
		checkConsoleHeaders(t, w, p)
	}

	// A revalidation of the page is answered 304.
	w := consoleGet(t, h, "/console/devices")
	if w2 := consoleGet(t, h, "/console/devices", "If-None-Match", w.Header().Get("ETag")); w2.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", w2.Code)
	}

	// / and /console redirect to the console.
	for p, want := range map[string]int{"/": http.StatusFound, "/console": http.StatusMovedPermanently} {
		w := consoleGet(t, h, p)
		if w.Code != want || w.Header().Get("Location") != "/console/" {
			t.Errorf("GET %s: %d Location %q, want %d /console/", p, w.Code, w.Header().Get("Location"), want)
		}
	}

	// index.html has no inline script or style (the CSP would refuse them) and
	// every asset it names is served, cached for a year, with its type.
	if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).Match(index) || bytes.Contains(index, []byte("<style")) ||
		bytes.Contains(index, []byte(" style=")) {
		t.Errorf("index.html has inline script or style:\n%s", index)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/console/assets/[^"]+)"`).FindAllSubmatch(index, -1)
	if len(refs) < 2 {
		t.Fatalf("index.html names %d assets, want a script and a stylesheet:\n%s", len(refs), index)
	}
	for _, r := range refs {
		p := string(r[1])
		w := consoleGet(t, h, p)
		onDisk, err := os.ReadFile(filepath.Join("console/dist", strings.TrimPrefix(p, "/console/")))
		if err != nil {
			t.Fatal(err)
		}
		if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), onDisk) {
			t.Errorf("GET %s: %d, same as dist: %v", p, w.Code, bytes.Equal(w.Body.Bytes(), onDisk))
		}
		if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
			t.Errorf("GET %s: Cache-Control %q", p, cc)
		}
		ct := w.Header().Get("Content-Type")
		if strings.HasSuffix(p, ".js") && !strings.HasPrefix(ct, "text/javascript") || strings.HasSuffix(p, ".css") && !strings.HasPrefix(ct, "text/css") {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		checkConsoleHeaders(t, w, p)

		// Gzipped when asked for, the same bytes once inflated.
		g := consoleGet(t, h, p, "Accept-Encoding", "gzip, deflate")
		if g.Header().Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(g.Body)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(zr)
			if !bytes.Equal(b, onDisk) {
				t.Errorf("GET %s gzip: inflated body differs", p)
			}
		} else if len(onDisk) > 4096 {
			t.Errorf("GET %s: %d bytes not gzipped", p, len(onDisk))
		}
	}

	// A missing asset is a 404 (not the page); the hash file is not served.
	if w := consoleGet(t, h, "/console/assets/nope-123.js"); w.Code != http.StatusNotFound {
		t.Errorf("missing asset: %d, want 404", w.Code)
	}
	if w := consoleGet(t, h, "/console/.source-hash"); !bytes.Equal(w.Body.Bytes(), index) {
		t.Errorf("/console/.source-hash served: %q", w.Body.String())
	}

	// The API is untouched: /v1 still wants a key.
	if w := consoleGet(t, h, "/v1/devices"); w.Code != http.StatusUnauthorized {
		t.Errorf("/v1/devices without a key: %d, want 401", w.Code)
	}
}

// TestConsoleCSPPeers: the console's policy lets live video reach the
// cluster's other nodes (their origins only, well-formed ones only).
func TestConsoleCSPPeers(t *testing.T) {
	live := &Live{PeerOrigins: func() []string {
		return []string{"http://10.0.0.2:8080", "https://cams.example.com/ignored/path", "http://bad;script-src *", "ftp://x", "http://10.0.0.2:8080"}
	}}
	h := New(Config{AdminKey: testAdminKey, Node: "n1", Log: quietLog, Live: live}).Handler()
	csp := consoleGet(t, h, "/console/").Header().Get("Content-Security-Policy")
	for _, d := range []string{"connect-src 'self' http://10.0.0.2:8080 https://cams.example.com;", "media-src 'self' blob: http://10.0.0.2:8080 https://cams.example.com;"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "bad") || strings.Contains(csp, "ftp") || strings.Contains(csp, "*") {
		t.Errorf("CSP %q lets a malformed origin in", csp)
	}
}
