package snapshot

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors of a grab, for the API to map to its answers (their text reads
// after the context the wrapping error gives).
var (
	// ErrBadWidth: the width asked for is neither 0 nor MinWidth..MaxWidth
	// (a client's mistake: 400).
	ErrBadWidth = fmt.Errorf("width must be 0 (the source's) or %d..%d", MinWidth, MaxWidth)
	// ErrUnauthorized: the camera answered 401, to the credentials or to
	// their absence.
	ErrUnauthorized = errors.New("the camera refused the credentials")
	// ErrNotJPEG: the camera's answer (or ffmpeg's output) is not a JPEG.
	ErrNotJPEG = errors.New("not a JPEG")
	// ErrTooLarge: the camera's answer (or ffmpeg's output) exceeds
	// MaxBytes.
	ErrTooLarge = errors.New("larger than MaxBytes")
)

// StatusError is a camera's HTTP answer other than 200 to a snapshot
// request. A 401 unwraps to ErrUnauthorized.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
}

func (e *StatusError) Unwrap() error {
	if e.Code == http.StatusUnauthorized {
		return ErrUnauthorized
	}
	return nil
}
