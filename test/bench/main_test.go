package bench

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	results.print()
	os.Exit(code)
}
