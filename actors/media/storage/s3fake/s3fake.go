// Package s3fake runs an in-memory S3-protocol server (gofakes3) over real
// HTTP on loopback, for tests of code that talks to S3 with minio-go.
package s3fake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/argus-vms/argus/actors/media/storage"
)

// Test credentials accepted by the server (it does not check signatures).
const (
	AccessKey = "argus-test-access"
	SecretKey = "argus-test-secret-do-not-log"
)

// Server is a running fake S3 server with one bucket.
type Server struct {
	// URL is http://127.0.0.1:port.
	URL string
	// Bucket exists from the start.
	Bucket string

	http    *httptest.Server
	backend *s3mem.Backend
}

// Start starts a server with bucket created. Close it when done.
func Start(bucket string) (*Server, error) {
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		return nil, fmt.Errorf("s3fake: create bucket: %w", err)
	}
	faker := gofakes3.New(backend)
	ts := httptest.NewServer(decodeChunkedParts(faker.Server()))
	return &Server{URL: ts.URL, Bucket: bucket, http: ts, backend: backend}, nil
}

// ForTest starts a server closed by t's cleanup.
func ForTest(t testing.TB, bucket string) *Server {
	t.Helper()
	s, err := Start(bucket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Config is a storage configuration for this server and bucket, spooling
// to spoolDir.
func (s *Server) Config(spoolDir string) storage.S3Config {
	return storage.S3Config{
		Endpoint:  s.URL,
		Bucket:    s.Bucket,
		AccessKey: AccessKey,
		SecretKey: SecretKey,
		Region:    "us-east-1",
		SpoolDir:  spoolDir,
	}
}

// Close stops the server.
func (s *Server) Close() { s.http.Close() }

// decodeChunkedParts decodes aws-chunked bodies (signed streaming uploads,
// what minio-go sends over plain HTTP) of multipart part uploads: gofakes3
// decodes them for single PUTs only and would store the chunk framing of
// parts as data. Real S3 servers decode both.
func decodeChunkedParts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != http.MethodPut || q.Get("partNumber") == "" || q.Get("uploadId") == "" ||
			r.Header.Get("X-Amz-Content-Sha256") != "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := decodeAWSChunked(r.Body)
		r.Body.Close()
		if err != nil {
			http.Error(w, "bad aws-chunked body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if want := r.Header.Get("X-Amz-Decoded-Content-Length"); want != "" && want != strconv.Itoa(len(body)) {
			http.Error(w, "decoded length mismatch", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		r.Header.Del("Content-Encoding")
		next.ServeHTTP(w, r)
	})
}

// decodeAWSChunked reads "<hex size>;chunk-signature=<sig>\r\n<data>\r\n"
// chunks up to the final zero-size one.
func decodeAWSChunked(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(r)
	var out bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		hexSize, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
		n, err := strconv.ParseInt(hexSize, 16, 64)
		if err != nil || n < 0 {
			return nil, errors.New("bad chunk size")
		}
		if n == 0 {
			return out.Bytes(), nil
		}
		if _, err := io.CopyN(&out, br, n); err != nil {
			return nil, err
		}
		if crlf, err := br.ReadString('\n'); err != nil || crlf != "\r\n" {
			return nil, errors.New("missing chunk terminator")
		}
	}
}
