package gateway

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// The web console (gateway/console/, TypeScript + Preact, built by Vite with
// `make console`) is committed as its built bundle, so `go build` needs no
// Node. console_test.go fails when the bundle is older than its sources.
//
//go:embed all:console/dist
var consoleEmbed embed.FS

// consoleCSP allows only the console's own files: no inline script or style,
// media from the gateway (HLS) and MSE blob: URLs, API calls to this origin
// — and, for live video of devices hosted by other nodes (their live URLs
// point at the owner), HLS and WHEP requests to the cluster's nodes.
func consoleCSP(peers []string) string {
	extra := ""
	for _, o := range peers {
		extra += " " + o
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"media-src 'self' blob:" + extra + "; connect-src 'self'" + extra + "; font-src 'self'; object-src 'none'; base-uri 'none'; " +
		"form-action 'self'; frame-ancestors 'none'"
}

// peerOrigins are the client-facing origins of the cluster's other nodes,
// each checked to be a plain scheme://host[:port] (nothing else can enter
// the policy).
func (s *Server) peerOrigins() []string {
	if s.live == nil || s.live.PeerOrigins == nil {
		return nil
	}
	var out []string
	for _, o := range s.live.PeerOrigins() {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(u.Host, " ;,'\"") {
			continue
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// consoleAsset is one file of the bundle, gzipped on first request.
type consoleAsset struct {
	body  []byte
	ctype string
	etag  string
	once  sync.Once
	gz    []byte // nil when gzip does not pay
}

func (a *consoleAsset) gzipped() []byte {
	a.once.Do(func() {
		if len(a.body) < 1024 {
			return
		}
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		w.Write(a.body)
		w.Close()
		if b.Len() < len(a.body)*9/10 {
			a.gz = b.Bytes()
		}
	})
	return a.gz
}

// consoleBundle reads the embedded bundle once per process.
var consoleBundle = sync.OnceValue(func() map[string]*consoleAsset {
	dist, err := fs.Sub(consoleEmbed, "console/dist")
	if err != nil {
		panic(err)
	}
	files := map[string]*consoleAsset{}
	fs.WalkDir(dist, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(path.Base(p), ".") { // .source-hash: for the staleness test only
			return nil
		}
		b, err := fs.ReadFile(dist, p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(b)
		}
		sum := sha256.Sum256(b)
		files[p] = &consoleAsset{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return files
})

// consoleRoutes serves the embedded web console under /console/: files of the
// bundle as they are (assets/ under hashed names, cached for a year), and
// index.html (never cached) for every other path, the console's client-side
// routes. / redirects to /console/.
func (s *Server) consoleRoutes(e *echo.Echo) {
	methods := []string{http.MethodGet, http.MethodHead}
	e.Match(methods, "/", func(c echo.Context) error {
		consoleHeaders(c.Response().Header(), nil)
		return c.Redirect(http.StatusFound, "/console/")
	})
	e.Match(methods, "/console", func(c echo.Context) error {
		consoleHeaders(c.Response().Header(), nil)
		return c.Redirect(http.StatusMovedPermanently, "/console/")
	})
	e.Match(methods, "/console/*", func(c echo.Context) error { return serveConsole(c, s.peerOrigins()) })
}

func consoleHeaders(h http.Header, peers []string) {
	h.Set("Content-Security-Policy", consoleCSP(peers))
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

func serveConsole(c echo.Context, peers []string) error {
	h := c.Response().Header()
	consoleHeaders(h, peers)
	files := consoleBundle()
	p := strings.TrimPrefix(c.Request().URL.Path, "/console/")
	a, ok := files[p]
	switch {
	case ok && p != "index.html":
		if strings.HasPrefix(p, "assets/") {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
	case strings.HasPrefix(p, "assets/"):
		// A missing asset is a 404, not the page: a stale page asking for
		// an old bundle must not get HTML as its script.
		h.Set("Cache-Control", "no-store")
		return c.String(http.StatusNotFound, "not found")
	default:
		a = files["index.html"]
		if a == nil {
			return c.String(http.StatusServiceUnavailable, "the console is not built (make console)")
		}
		h.Set("Cache-Control", "no-cache")
	}
	return writeConsoleAsset(c, a)
}

func writeConsoleAsset(c echo.Context, a *consoleAsset) error {
	req, h := c.Request(), c.Response().Header()
	h.Set("ETag", a.etag)
	h.Set("Vary", "Accept-Encoding")
	if inm := req.Header.Get("If-None-Match"); inm != "" && etagListed(inm, a.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	body := a.body
	if acceptsGzip(req.Header.Get("Accept-Encoding")) {
		if gz := a.gzipped(); gz != nil {
			body = gz
			h.Set("Content-Encoding", "gzip")
		}
	}
	if req.Method == http.MethodHead {
		h.Set("Content-Type", a.ctype)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		return c.NoContent(http.StatusOK)
	}
	return c.Blob(http.StatusOK, a.ctype, body)
}

func etagListed(inm, etag string) bool {
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
