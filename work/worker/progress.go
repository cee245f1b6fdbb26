package worker

import (
	"math"
	"sync/atomic"
)

// progressBox is a job's progress, set by the job and read by the lease
// renewal.
type progressBox struct{ bits atomic.Uint64 }

func (p *progressBox) set(v float64) { p.bits.Store(math.Float64bits(v)) }
func (p *progressBox) get() float64  { return math.Float64frombits(p.bits.Load()) }
