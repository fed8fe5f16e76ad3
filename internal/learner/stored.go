package learner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// learntVersion is the first byte of every encoding of learnt classes.
const learntVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeLearnt encodes cs, as Learnt lists them, for a store: the version
// byte; a uvarint count; for each class a uvarint-length service name, a
// uvarint-length span name, the span kind as a uvarint and when it was
// last linked, Unix nanoseconds, 8 bytes big-endian; then a CRC-32C of
// everything before it, 4 bytes.
func EncodeLearnt(cs []Learnt) []byte {
	v := []byte{learntVersion}
	v = binary.AppendUvarint(v, uint64(len(cs)))
	for _, c := range cs {
		v = binary.AppendUvarint(v, uint64(len(c.Service)))
		v = append(v, c.Service...)
		v = binary.AppendUvarint(v, uint64(len(c.Name)))
		v = append(v, c.Name...)
		v = binary.AppendUvarint(v, uint64(c.Kind))
		v = binary.BigEndian.AppendUint64(v, uint64(c.Linked.UnixNano()))
	}
	return binary.BigEndian.AppendUint32(v, crc32.Checksum(v, castagnoli))
}

// DecodeLearnt reads what EncodeLearnt wrote; a value that does not read
// back whole, or holds more classes or longer names than a Learner keeps,
// is an error.
func DecodeLearnt(v []byte) ([]Learnt, error) {
	if len(v) < 1+1+4 {
		return nil, errors.New("the learnt classes are cut short")
	}
	body := v[:len(v)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(v[len(v)-4:]) {
		return nil, errors.New("the learnt classes do not match their checksum")
	}
	if body[0] != learntVersion {
		return nil, fmt.Errorf("the learnt classes are of version %d; this collector reads version %d", body[0], learntVersion)
	}
	r := learntReader{b: body[1:]}
	n := r.uvarint()
	if n > maxClasses {
		return nil, fmt.Errorf("%d learnt classes; a learner keeps at most %d", n, maxClasses)
	}
	out := make([]Learnt, 0, n)
	for range n {
		var c Learnt
		c.Service, c.Name = r.name(), r.name()
		c.Kind = ptrace.SpanKind(r.uvarint())
		c.Linked = time.Unix(0, int64(r.u64()))
		out = append(out, c)
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = errors.New("the learnt classes have bytes after their last class")
	}
	return out, r.err
}

// learntReader reads the fields of an encoding of learnt classes, keeping
// the first error.
type learntReader struct {
	b   []byte
	err error
}

func (r *learntReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("the learnt classes are cut short or malformed: %s", what)
	}
	r.b = nil
}

func (r *learntReader) uvarint() uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("a number")
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *learntReader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail("a time")
		return 0
	}
	x := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return x
}

// name reads a uvarint-length name of at most maxClassNameBytes.
func (r *learntReader) name() string {
	n := r.uvarint()
	if n > maxClassNameBytes || n > uint64(len(r.b)) {
		r.fail("a name")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
