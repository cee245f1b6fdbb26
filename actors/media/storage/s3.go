package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config configures an S3-compatible storage. Its SecretKey is never
// logged (S3Config implements slog.LogValuer and fmt.Stringer without it).
type S3Config struct {
	// Endpoint is host[:port], or a URL http(s)://host[:port] (its scheme
	// then sets UseSSL).
	Endpoint  string
	Bucket    string
	AccessKey string
	SecretKey string
	UseSSL    bool
	// Region of the bucket; empty asks the server (one more request).
	Region string
	// SpoolDir holds the objects being written before their upload on
	// Close, as *.partial files that Partials lists after a crash. Give
	// each process its own persistent directory (e.g. <data>/s3spool).
	// Default: <os.TempDir()>/argus-s3-spool/<bucket>.
	SpoolDir string
	// PartSize of multipart uploads (objects larger than it are uploaded in
	// parts of this size). Default 16 MiB, minimum 5 MiB.
	PartSize uint64
	// Transport for the HTTP requests; nil uses minio-go's default.
	Transport http.RoundTripper
}

// String implements fmt.Stringer without the secret key.
func (c S3Config) String() string {
	return fmt.Sprintf("s3{endpoint=%s bucket=%s access_key=%s region=%s ssl=%t}",
		c.Endpoint, c.Bucket, c.AccessKey, c.Region, c.UseSSL)
}

// GoString implements fmt.GoStringer (%#v) without the secret key.
func (c S3Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secret key.
func (c S3Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.String("bucket", c.Bucket),
		slog.String("access_key", c.AccessKey),
		slog.String("region", c.Region),
		slog.Bool("ssl", c.UseSSL),
	)
}

const (
	defaultPartSize = 16 << 20
	minPartSize     = 5 << 20
)

// S3 stores objects in a bucket with minio-go. Objects being written are
// spooled to local files and uploaded when their Writer is closed, so an
// object appears in the bucket complete or not at all, memory stays small,
// and a crash leaves a local partial that Partials lists for recovery.
// Safe for concurrent use.
type S3 struct {
	cfg    S3Config
	client *minio.Client
	spool  *Local
}

var _ PartialPublisher = (*S3)(nil)

// NewS3 returns an S3 storage. It makes no request: see Check.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("storage: s3 endpoint and bucket are required")
	}
	if strings.Contains(cfg.Endpoint, "://") {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("storage: s3 endpoint %q: want host:port or http(s)://host:port", cfg.Endpoint)
		}
		switch u.Scheme {
		case "http":
			cfg.UseSSL = false
		case "https":
			cfg.UseSSL = true
		default:
			return nil, fmt.Errorf("storage: s3 endpoint scheme %q", u.Scheme)
		}
		cfg.Endpoint = u.Host
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = defaultPartSize
	}
	cfg.PartSize = max(cfg.PartSize, minPartSize)
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = filepath.Join(os.TempDir(), "argus-s3-spool", cfg.Bucket)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.UseSSL,
		Region:    cfg.Region,
		Transport: cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: s3 client: %w", err)
	}
	spool, err := NewLocal(cfg.SpoolDir)
	if err != nil {
		return nil, err
	}
	return &S3{cfg: cfg, client: client, spool: spool}, nil
}

// Client is the minio-go client (listing, bucket administration).
func (s *S3) Client() *minio.Client { return s.client }

// Bucket is the bucket name.
func (s *S3) Bucket() string { return s.cfg.Bucket }

// Check verifies that the bucket exists and the credentials work.
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("storage: s3 bucket %s: %w", s.cfg.Bucket, err)
	}
	if !ok {
		return fmt.Errorf("storage: s3 bucket %s does not exist", s.cfg.Bucket)
	}
	return nil
}

// Create implements Storage: the object is spooled locally and uploaded by
// Close.
func (s *S3) Create(ctx context.Context, key string) (Writer, error) {
	w, err := s.spool.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &s3Writer{s: s, key: key, w: w.(*localWriter)}, nil
}

// Open implements Storage. The reader fetches ranges as it is read and
// seeked; partial keys open the local spool file.
func (s *S3) Open(ctx context.Context, key string) (io.ReadSeekCloser, int64, error) {
	if err := ValidKey(key); err != nil {
		return nil, 0, err
	}
	if IsPartial(key) {
		return s.spool.Open(ctx, key)
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, s.mapErr("open", key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, 0, s.mapErr("open", key, err)
	}
	return obj, st.Size, nil
}

// Delete implements Storage.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if IsPartial(key) {
		return s.spool.Delete(ctx, key)
	}
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
		if errors.Is(s.mapErr("delete", key, err), ErrNotFound) {
			return nil
		}
		return s.mapErr("delete", key, err)
	}
	return nil
}

// Partials implements Storage: objects in the bucket appear atomically, so
// the only partials are spool files left by a crash (or by a failed upload)
// in SpoolDir.
func (s *S3) Partials(ctx context.Context) ([]string, error) {
	return s.spool.Partials(ctx)
}

// List implements Lister: the bucket's objects under dir (not recursive).
func (s *S3) List(ctx context.Context, dir string) ([]string, error) {
	if err := validDir(dir); err != nil {
		return nil, err
	}
	var out []string
	for obj := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: dir}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("storage: list %s: %w", dir, obj.Err)
		}
		if strings.HasSuffix(obj.Key, "/") || ValidKey(obj.Key) != nil || IsPartial(obj.Key) {
			continue
		}
		out = append(out, obj.Key)
	}
	sort.Strings(out)
	return out, nil
}

// PublishPartial implements PartialPublisher: the first size bytes of the
// spooled partial are uploaded under the final key, then the spool file is
// removed.
func (s *S3) PublishPartial(ctx context.Context, partial string, size int64) (string, error) {
	if err := validPartialKey(partial); err != nil {
		return "", err
	}
	if s.spool.isActive(partial) {
		return "", fmt.Errorf("storage: %s is being written", partial)
	}
	f, n, err := s.spool.Open(ctx, partial)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if size > n {
		return "", fmt.Errorf("storage: publish %s: size %d beyond its end (%d)", partial, size, n)
	}
	key := FinalKey(partial)
	if err := s.upload(ctx, key, io.NewSectionReader(f.(*os.File), 0, size), size); err != nil {
		return "", err
	}
	if err := s.spool.Delete(ctx, partial); err != nil {
		return key, err
	}
	return key, nil
}

func (s *S3) upload(ctx context.Context, key string, r io.Reader, size int64) error {
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, key, r, size, minio.PutObjectOptions{
		ContentType: "video/mp4",
		PartSize:    s.cfg.PartSize,
		NumThreads:  2,
	})
	if err != nil {
		return s.mapErr("upload", key, err)
	}
	return nil
}

// uploadTimeout bounds one upload: generous, for slow links (256 KiB/s).
func uploadTimeout(size int64) time.Duration {
	return 2*time.Minute + time.Duration(size/(256<<10))*time.Second
}

func (s *S3) mapErr(op, key string, err error) error {
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchKey", "NotFound":
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket" {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return fmt.Errorf("storage: s3 %s %s: %w", op, key, err)
}

// s3Writer spools to a local partial file and uploads it on Close.
type s3Writer struct {
	s    *S3
	key  string
	w    *localWriter
	done bool
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	return w.w.Write(p)
}

// Close uploads the spooled object (multipart when larger than PartSize)
// and removes the spool file. If the upload fails the spool file stays as a
// partial for recovery.
func (w *s3Writer) Close() error {
	if w.done {
		return ErrClosed
	}
	w.done = true
	lw := w.w
	defer lw.l.release(lw.partKey)
	if lw.err != nil {
		lw.done = true
		lw.f.Close()
		return lw.err
	}
	lw.done = true
	size, err := lw.f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = lw.f.Seek(0, io.SeekStart)
	}
	if err != nil {
		lw.f.Close()
		return fmt.Errorf("storage: spool: %w", pathless(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), uploadTimeout(size))
	defer cancel()
	err = w.s.upload(ctx, w.key, io.NewSectionReader(lw.f, 0, size), size)
	lw.f.Close()
	if err != nil {
		return err
	}
	// Published. A spool file that cannot be removed is uploaded again
	// by a later recovery (same key, same bytes).
	_ = os.Remove(lw.final + PartialSuffix)
	lw.l.pruneDirs(filepath.Dir(lw.final))
	return nil
}

// Abort discards the spooled object.
func (w *s3Writer) Abort() error {
	if w.done {
		return ErrClosed
	}
	w.done = true
	return w.w.Abort()
}
