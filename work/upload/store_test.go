package upload

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"testing"

	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/tus/tusd/v2/pkg/handler"
)

// cutReader yields n bytes of r, then fails as a dropped connection does.
type cutReader struct {
	r io.Reader
	n int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("connection reset")
	}
	p = p[:min(len(p), c.n)]
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

// TestResumeAfterACutChunk: a PATCH cut off keeps what it received, the
// offset says where to resume, and the parts read back as the whole file.
func TestResumeAfterACutChunk(t *testing.T) {
	st, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := New(st)
	data := bytes.Repeat([]byte("argus-vod-"), 10_000)
	u, err := s.NewUpload(ctx, handler.FileInfo{Size: int64(len(data)), MetaData: handler.MetaData{"filename": "a.mp4", ByMeta: "k1"}})
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := u.GetInfo(ctx)
	n, err := u.WriteChunk(ctx, 0, &cutReader{r: bytes.NewReader(data), n: 30_000})
	if n != 30_000 || err == nil {
		t.Fatalf("cut chunk: %d %v", n, err)
	}
	if _, _, err := s.Open(ctx, fi.ID); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an incomplete upload opened: %v", err)
	}
	u2, err := s.GetUpload(ctx, fi.ID)
	if err != nil {
		t.Fatal(err)
	}
	fi2, _ := u2.GetInfo(ctx)
	if fi2.Offset != 30_000 {
		t.Fatalf("offset after the cut %d", fi2.Offset)
	}
	if _, err := u2.WriteChunk(ctx, 0, bytes.NewReader(data)); !errors.Is(err, handler.ErrMismatchOffset) {
		t.Fatalf("a chunk at the wrong offset: %v", err)
	}
	if n, err := u2.WriteChunk(ctx, 30_000, bytes.NewReader(data[30_000:])); err != nil || n != int64(len(data)-30_000) {
		t.Fatalf("resume: %d %v", n, err)
	}
	r, size, err := s.Open(ctx, fi.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if size != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want the %d uploaded", len(got), len(data))
	}
	info, _ := s.Info(ctx, fi.ID)
	if info.By != "k1" || info.MetaData["filename"] != "a.mp4" || info.MetaData[ByMeta] != "" || !info.Complete() {
		t.Errorf("info: %+v", info)
	}
	if err := s.AsTerminatableUpload(u2).Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUpload(ctx, fi.ID); !errors.Is(err, handler.ErrNotFound) {
		t.Errorf("terminated upload: %v", err)
	}
}
