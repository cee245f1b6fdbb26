package jobs

import (
	"context"
	"fmt"
	"io"
	"os"
)

// put copies the scratch file at path into the storage under key and
// returns its size. Nothing is published under key unless the whole file
// was written (the storage's Create/Close).
func (w *work) put(ctx context.Context, key, path string) (int64, error) {
	in, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("storing %s: %w", key, err)
	}
	defer in.Close()
	out, err := w.env.Storage.Create(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("storing %s: %w", key, err)
	}
	n, err := io.Copy(out, ctxReader{ctx, in})
	if err != nil {
		_ = out.Abort()
		return 0, fmt.Errorf("storing %s: %w", key, err)
	}
	if err := out.Close(); err != nil {
		return 0, fmt.Errorf("storing %s: %w", key, err)
	}
	return n, nil
}
