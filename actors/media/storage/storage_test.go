package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/actors/media/storage/s3fake"
)

func TestValidKey(t *testing.T) {
	good := []string{
		"cam1~1/2026/11/22/030405.000-ab12cd34.mp4",
		"a", "a/b", "x_y-z.~1", "cam1~1/2026/11/22/030405.000-ab12cd34.mp4.partial",
	}
	bad := []string{
		"", "/abs/key.mp4", "a//b", "a/", "../x", "a/../b", "a/..", "a..b",
		"A/b", "a b", "a\\b", "a/./b", "./a", "a/.hidden", "ü", "a?b", "a%2fb", "a\x00b",
		strings.Repeat("a", 1025),
	}
	for _, k := range good {
		if err := storage.ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range bad {
		if err := storage.ValidKey(k); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("ValidKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

// backend makes a fresh storage, and reopen a second value over the same
// data (what a restarted process sees).
type backend struct {
	name   string
	make   func(t *testing.T) (st, reopen func(t *testing.T) storage.Storage)
	listed func(t *testing.T, st storage.Storage) []string // published keys
}

func backends() []backend {
	return []backend{
		{
			name: "local",
			make: func(t *testing.T) (func(*testing.T) storage.Storage, func(*testing.T) storage.Storage) {
				dir := t.TempDir()
				open := func(t *testing.T) storage.Storage {
					l, err := storage.NewLocal(dir)
					if err != nil {
						t.Fatal(err)
					}
					return l
				}
				return open, open
			},
			listed: func(t *testing.T, st storage.Storage) []string {
				root := st.(*storage.Local).Dir()
				var keys []string
				filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
					if err == nil && !d.IsDir() && !strings.HasSuffix(p, storage.PartialSuffix) {
						rel, _ := filepath.Rel(root, p)
						keys = append(keys, filepath.ToSlash(rel))
					}
					return nil
				})
				return keys
			},
		},
		{
			name: "s3",
			make: func(t *testing.T) (func(*testing.T) storage.Storage, func(*testing.T) storage.Storage) {
				srv := s3fake.ForTest(t, "rec")
				spool := t.TempDir()
				open := func(t *testing.T) storage.Storage {
					cfg := srv.Config(spool)
					cfg.PartSize = 5 << 20
					s, err := storage.NewS3(cfg)
					if err != nil {
						t.Fatal(err)
					}
					if err := s.Check(context.Background()); err != nil {
						t.Fatal(err)
					}
					return s
				}
				return open, open
			},
			listed: func(t *testing.T, st storage.Storage) []string {
				s := st.(*storage.S3)
				var keys []string
				for obj := range s.Client().ListObjects(context.Background(), s.Bucket(), minio.ListObjectsOptions{Recursive: true}) {
					if obj.Err != nil {
						t.Fatal(obj.Err)
					}
					keys = append(keys, obj.Key)
				}
				return keys
			},
		},
	}
}

func randBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readAll(t *testing.T, st storage.Storage, key string) []byte {
	t.Helper()
	r, size, err := st.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != size {
		t.Fatalf("open %s: size %d, read %d", key, size, len(b))
	}
	return b
}

func TestStorage(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			open, reopen := b.make(t)
			st := open(t)

			t.Run("publish on close only", func(t *testing.T) {
				key := "cam1~1/2026/11/22/030405.000-aaaa1111.mp4"
				data := randBytes(t, 300_000)
				w, err := st.Create(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < len(data); i += 70_000 {
					if _, err := w.Write(data[i:min(i+70_000, len(data))]); err != nil {
						t.Fatal(err)
					}
				}
				if _, _, err := st.Open(ctx, key); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("open before close: %v, want ErrNotFound", err)
				}
				if got := b.listed(t, st); len(got) != 0 {
					t.Fatalf("visible before close: %v", got)
				}
				if p, err := st.Partials(ctx); err != nil || len(p) != 0 {
					t.Fatalf("partials of the writing instance = %v, %v; want none", p, err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); !errors.Is(err, storage.ErrClosed) {
					t.Fatalf("second close: %v", err)
				}
				if _, err := w.Write([]byte("x")); !errors.Is(err, storage.ErrClosed) {
					t.Fatalf("write after close: %v", err)
				}
				if got := readAll(t, st, key); !bytes.Equal(got, data) {
					t.Fatal("read back differs")
				}
				if got := b.listed(t, st); len(got) != 1 || got[0] != key {
					t.Fatalf("listed %v", got)
				}

				// seek and read a range
				r, size, err := st.Open(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if size != int64(len(data)) {
					t.Fatalf("size %d", size)
				}
				if _, err := r.Seek(123_456, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				part := make([]byte, 1000)
				if _, err := io.ReadFull(r, part); err != nil {
					t.Fatal(err)
				}
				r.Close()
				if !bytes.Equal(part, data[123_456:124_456]) {
					t.Fatal("range differs")
				}

				if err := st.Delete(ctx, key); err != nil {
					t.Fatal(err)
				}
				if _, _, err := st.Open(ctx, key); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("open after delete: %v", err)
				}
				if err := st.Delete(ctx, key); err != nil {
					t.Fatalf("delete of a missing key: %v", err)
				}
				if l, ok := st.(*storage.Local); ok {
					if _, err := os.Stat(filepath.Join(l.Dir(), "cam1~1")); !os.IsNotExist(err) {
						t.Fatalf("emptied directories not pruned: %v", err)
					}
				}
			})

			t.Run("list a day", func(t *testing.T) {
				day := "cam9~1/2026/11/23/"
				for _, k := range []string{day + "100000.000-bbbb0002.mp4", day + "090000.000-bbbb0001.mp4", "cam9~1/2026/11/24/000000.000-bbbb0003.mp4"} {
					w, err := st.Create(ctx, k)
					if err != nil {
						t.Fatal(err)
					}
					w.Write([]byte("x"))
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
				}
				w, err := st.Create(ctx, day+"110000.000-bbbb0004.mp4") // being written: not listed
				if err != nil {
					t.Fatal(err)
				}
				defer w.Abort()
				got, err := st.(storage.Lister).List(ctx, day)
				want := []string{day + "090000.000-bbbb0001.mp4", day + "100000.000-bbbb0002.mp4"}
				if err != nil || !slices.Equal(got, want) {
					t.Fatalf("List(%s) = %v, %v; want %v", day, got, err, want)
				}
				if got, err := st.(storage.Lister).List(ctx, "cam9~1/2026/01/01/"); err != nil || len(got) != 0 {
					t.Fatalf("List of an empty day = %v, %v", got, err)
				}
				if _, err := st.(storage.Lister).List(ctx, "cam9~1/2026"); !errors.Is(err, storage.ErrInvalidKey) {
					t.Fatalf("List without a trailing slash: %v", err)
				}
			})

			t.Run("abort", func(t *testing.T) {
				key := "cam1~1/2026/11/22/030406.000-bbbb2222.mp4"
				w, err := st.Create(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				w.Write(randBytes(t, 1000))
				if err := w.Abort(); err != nil {
					t.Fatal(err)
				}
				if _, _, err := st.Open(ctx, key); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("open after abort: %v", err)
				}
				if p, _ := reopen(t).Partials(ctx); len(p) != 0 {
					t.Fatalf("partials after abort: %v", p)
				}
			})

			t.Run("bad keys", func(t *testing.T) {
				for _, k := range []string{"../escape.mp4", "/abs.mp4", "Cam/x.mp4", "x.mp4.partial"} {
					if _, err := st.Create(ctx, k); !errors.Is(err, storage.ErrInvalidKey) {
						t.Errorf("create %q: %v", k, err)
					}
				}
				if _, _, err := st.Open(ctx, "../../etc/passwd"); !errors.Is(err, storage.ErrInvalidKey) {
					t.Errorf("open: %v", err)
				}
				if err := st.Delete(ctx, "a/../../b"); !errors.Is(err, storage.ErrInvalidKey) {
					t.Errorf("delete: %v", err)
				}
			})

			t.Run("crash leaves a partial", func(t *testing.T) {
				key := "cam2~1/2026/11/22/030407.000-cccc3333.mp4"
				data := randBytes(t, 50_000)
				w, err := st.Create(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				w.Write(data) // never closed: the "process" dies here
				after := reopen(t)
				parts, err := after.Partials(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(parts) != 1 || parts[0] != key+storage.PartialSuffix {
					t.Fatalf("partials = %v", parts)
				}
				if got := readAll(t, after, parts[0]); !bytes.Equal(got, data) {
					t.Fatal("partial content differs")
				}
				if _, err := after.Create(ctx, key); err == nil {
					t.Fatal("create over a crashed partial succeeded")
				}
				pub, err := after.(storage.PartialPublisher).PublishPartial(ctx, parts[0], 20_000)
				if err != nil {
					t.Fatal(err)
				}
				if pub != key {
					t.Fatalf("published as %s", pub)
				}
				if got := readAll(t, after, key); !bytes.Equal(got, data[:20_000]) {
					t.Fatal("published content differs")
				}
				if parts, _ := after.Partials(ctx); len(parts) != 0 {
					t.Fatalf("partials after publish: %v", parts)
				}

				// and one removed
				w2, _ := st.Create(ctx, "cam2~1/x.mp4")
				w2.Write(data[:10])
				after = reopen(t)
				parts, _ = after.Partials(ctx)
				if len(parts) != 1 {
					t.Fatalf("partials = %v", parts)
				}
				if err := after.Delete(ctx, parts[0]); err != nil {
					t.Fatal(err)
				}
				if parts, _ := after.Partials(ctx); len(parts) != 0 {
					t.Fatalf("partials after delete: %v", parts)
				}
				after.Delete(ctx, key)
			})
		})
	}
}

func TestS3Multipart(t *testing.T) {
	ctx := context.Background()
	srv := s3fake.ForTest(t, "rec")
	cfg := srv.Config(t.TempDir())
	cfg.PartSize = 5 << 20
	st, err := storage.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(t, 12<<20) // three parts
	key := "cam1~1/2026/01/02/000000.000-big00000.mp4"
	w, err := st.Create(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(data); i += 1 << 20 {
		if _, err := w.Write(data[i : i+1<<20]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, st, key); !bytes.Equal(got, data) {
		i := 0
		for i < len(got) && i < len(data) && got[i] == data[i] {
			i++
		}
		for p := 0; p < 3; p++ {
			off := p * 5 << 20
			t.Logf("part %d at %d found at %d", p, off, bytes.Index(got, data[off:off+64]))
		}
		t.Fatalf("multipart object differs: len %d want %d, first difference at %d", len(got), len(data), i)
	}
	if ents, _ := os.ReadDir(cfg.SpoolDir); len(ents) != 0 {
		t.Fatalf("spool not cleaned: %v", ents)
	}
}

func TestS3SecretNeverPrinted(t *testing.T) {
	srv := s3fake.ForTest(t, "rec")
	cfg := srv.Config(t.TempDir())
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "s3", cfg)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "s3", cfg)
	for _, s := range []string{logged.String(), cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%v %+v %s %#v", cfg, cfg, cfg, cfg)} {
		if strings.Contains(s, s3fake.SecretKey) {
			t.Fatalf("secret key printed: %s", s)
		}
	}
	if !strings.Contains(logged.String(), srv.URL) {
		t.Fatalf("config not logged at all: %s", logged.String())
	}

	// errors from a refused request do not carry it either
	cfg.Bucket = "missing-bucket"
	st, err := storage.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Check(context.Background())
	if err == nil {
		t.Fatal("check of a missing bucket passed")
	}
	if strings.Contains(err.Error(), s3fake.SecretKey) {
		t.Fatalf("secret in error: %v", err)
	}
	if _, _, err := st.Open(context.Background(), "a.mp4"); err == nil || strings.Contains(err.Error(), s3fake.SecretKey) {
		t.Fatalf("open in a missing bucket: %v", err)
	}
}
