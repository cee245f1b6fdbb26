// Package upload keeps resumable (tus) uploads in the recording storage,
// local or S3, as the tus handler's data store: each upload is a folder
// uploads/<id>/ with its description (info.json: size, offset, metadata
// and the parts received) and the bytes received, one object per part
// (<offset>.part). Storages publish objects whole, so a part is never
// appended to: a PATCH writes a new part from the offset the client
// resumes at, and a PATCH cut off halfway keeps what it received (the
// client's HEAD then reads the offset after it).
//
// Any node of the cluster serves any upload when the storage is shared
// (S3); the tus lock is per node (memorylocker), which is enough because
// a client sends one PATCH of an upload at a time.
package upload

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"time"

	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/events"
	"github.com/tus/tusd/v2/pkg/handler"
)

// Info is an upload's description, stored as uploads/<id>/info.json.
type Info struct {
	ID       string            `json:"id"`
	Size     int64             `json:"size"`
	Offset   int64             `json:"offset"`
	MetaData map[string]string `json:"metadata,omitempty"`
	Parts    []Part            `json:"parts"`
	By       string            `json:"by,omitempty"` // the key that created it
	Created  int64             `json:"created_unix_ms"`
}

// Part is one stored piece of the upload's bytes.
type Part struct {
	Offset int64 `json:"offset"`
	Size   int64 `json:"size"`
}

// Complete reports an upload whose bytes are all in.
func (i Info) Complete() bool { return i.Offset == i.Size }

// Store is the tus data store on a storage.
type Store struct {
	st storage.Storage
}

// New returns the upload store on st.
func New(st storage.Storage) *Store { return &Store{st: st} }

// ErrNotFound: no upload with that id (it is an fs.ErrNotExist).
var ErrNotFound = fmt.Errorf("upload: no such upload: %w", fs.ErrNotExist)

func infoKey(id string) string { return "uploads/" + id + "/info.json" }
func partKey(id string, off int64) string {
	return "uploads/" + id + "/" + strconv.FormatInt(off, 10) + ".part"
}

// NewID is a fresh upload id ("up-" and 12 random [a-z0-9]).
func NewID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "up-" + string(b)
}

// NewUpload creates an upload (tus POST). info.ID, when the creation hook
// set one, is kept.
func (s *Store) NewUpload(ctx context.Context, fi handler.FileInfo) (handler.Upload, error) {
	if fi.SizeIsDeferred {
		return nil, handler.NewError("ERR_SIZE_REQUIRED", "Upload-Length is required", 400)
	}
	id := fi.ID
	if id == "" {
		id = NewID()
	}
	info := Info{ID: id, Size: fi.Size, MetaData: fi.MetaData, Created: time.Now().UnixMilli()}
	if by, ok := fi.MetaData[ByMeta]; ok {
		info.By = by
		delete(info.MetaData, ByMeta)
	}
	u := &upload{s: s, info: info}
	if err := u.save(ctx); err != nil {
		return nil, err
	}
	return u, nil
}

// ByMeta is the metadata key the gateway puts the creating key's id under
// (taken out of the stored metadata into Info.By).
const ByMeta = "argus-by"

// GetUpload opens an upload (tus HEAD, PATCH).
func (s *Store) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	info, err := s.Info(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, handler.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &upload{s: s, info: info}, nil
}

// Info reads an upload's description.
func (s *Store) Info(ctx context.Context, id string) (Info, error) {
	if !events.ValidID(id) {
		return Info{}, ErrNotFound
	}
	r, _, err := s.st.Open(ctx, infoKey(id))
	if errors.Is(err, storage.ErrNotFound) {
		return Info{}, ErrNotFound
	}
	if err != nil {
		return Info{}, err
	}
	defer r.Close()
	var info Info
	if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&info); err != nil {
		return Info{}, fmt.Errorf("upload %s: %w", id, err)
	}
	return info, nil
}

// Open reads a complete upload's bytes, its parts in order.
func (s *Store) Open(ctx context.Context, id string) (io.ReadCloser, int64, error) {
	info, err := s.Info(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if !info.Complete() {
		return nil, 0, fmt.Errorf("upload %s: %d of %d bytes received: %w", id, info.Offset, info.Size, fs.ErrNotExist)
	}
	return &partsReader{ctx: ctx, s: s, info: info}, info.Size, nil
}

// AsTerminatableUpload lets clients delete uploads (tus DELETE).
func (s *Store) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload { return u.(*upload) }

// UseIn registers the store with a tus store composer.
func (s *Store) UseIn(c *handler.StoreComposer) {
	c.UseCore(s)
	c.UseTerminater(s)
}

// upload is one upload being written or read.
type upload struct {
	s    *Store
	info Info
}

func (u *upload) save(ctx context.Context) error {
	b, err := json.Marshal(u.info)
	if err != nil {
		return err
	}
	w, err := u.s.st.Create(ctx, infoKey(u.info.ID))
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// WriteChunk stores the bytes of one PATCH from offset as a new part. A
// body cut off halfway still stores what came (tus resumes from there).
func (u *upload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	if offset != u.info.Offset {
		return 0, handler.ErrMismatchOffset
	}
	w, err := u.s.st.Create(context.WithoutCancel(ctx), partKey(u.info.ID, offset))
	if err != nil {
		return 0, err
	}
	n, rerr := io.Copy(w, src)
	if n == 0 {
		w.Abort()
		return 0, rerr
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	u.info.Parts = append(u.info.Parts, Part{Offset: offset, Size: n})
	u.info.Offset = offset + n
	if err := u.save(context.WithoutCancel(ctx)); err != nil {
		return 0, err
	}
	return n, rerr
}

func (u *upload) GetInfo(ctx context.Context) (handler.FileInfo, error) {
	return handler.FileInfo{ID: u.info.ID, Size: u.info.Size, Offset: u.info.Offset, MetaData: u.info.MetaData,
		Storage: map[string]string{"Type": "argus", "Key": path.Dir(infoKey(u.info.ID))}}, nil
}

func (u *upload) GetReader(ctx context.Context) (io.ReadCloser, error) {
	return &partsReader{ctx: ctx, s: u.s, info: u.info}, nil
}

func (u *upload) FinishUpload(ctx context.Context) error { return nil }

// Terminate deletes the upload's parts and description.
func (u *upload) Terminate(ctx context.Context) error {
	for _, p := range u.info.Parts {
		if err := u.s.st.Delete(ctx, partKey(u.info.ID, p.Offset)); err != nil {
			return err
		}
	}
	return u.s.st.Delete(ctx, infoKey(u.info.ID))
}

// partsReader reads the parts one after the other.
type partsReader struct {
	ctx  context.Context
	s    *Store
	info Info
	next int
	cur  io.ReadCloser
}

func (r *partsReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.next >= len(r.info.Parts) {
				return 0, io.EOF
			}
			part := r.info.Parts[r.next]
			rd, _, err := r.s.st.Open(r.ctx, partKey(r.info.ID, part.Offset))
			if err != nil {
				return 0, err
			}
			r.cur, r.next = struct {
				io.Reader
				io.Closer
			}{io.LimitReader(rd, part.Size), rd}, r.next+1
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (r *partsReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}
