package bench

import "testing"

func BenchmarkScratchHTTP(b *testing.B) { httpBench(b) }
