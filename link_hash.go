package spanlinksprocessor

import (
	"math/bits"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

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

// refHash mixes the three words of k with seed into 64 well-spread bits,
// with the multiply-and-fold step of wyhash. A random seed keeps crafted IDs
// from colliding on purpose.
func refHash(k refKey, seed uint64) uint64 {
	return mix64(mix64(k.t0^seed^0xa0761d6478bd642f, k.t1^0xe7037ed1a0b428db)^k.s, 0x8ebc6af09c88c6e3^seed)
}

// mix64 multiplies a and b into 128 bits and folds them into 64.
func mix64(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
