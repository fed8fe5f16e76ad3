package spanlinksprocessor

import "go.opentelemetry.io/collector/pdata/pcommon"

// FNV-1a 64-bit parameters.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// linkHash is the fixed hash that the sample truncation ranks links by:
// FNV-1a 64 over the 16 trace ID bytes followed by the 8 span ID bytes. It
// is the same on every collector and every replay.
func linkHash(t pcommon.TraceID, s pcommon.SpanID) uint64 {
	h := uint64(fnvOffset64)
	for _, b := range t {
		h = (h ^ uint64(b)) * fnvPrime64
	}
	for _, b := range s {
		h = (h ^ uint64(b)) * fnvPrime64
	}
	return h
}

// rank places one link in the bottom-k order.
type rank struct {
	hash  uint64
	index int
}

func compareRanks(a, b rank) int {
	switch {
	case a.hash < b.hash:
		return -1
	case a.hash > b.hash:
		return 1
	}
	return a.index - b.index
}

// validRef reports whether neither ID of r is all zeros.
func validRef(r SpanRef) bool {
	return !r.TraceID.IsEmpty() && !r.SpanID.IsEmpty()
}
