package linkindex

import (
	"fmt"
	"testing"
)

func TestNameTableCountsReferences(t *testing.T) {
	var nt nameTable
	a := nt.intern("process-batch", 1)
	if b := nt.intern("process-batch", 1); b != a {
		t.Fatalf("same name got ids %d and %d", a, b)
	}
	c := nt.intern("charge-card", 1)
	if c == a {
		t.Fatal("two names share an id")
	}
	if nt.name(a) != "process-batch" || nt.name(c) != "charge-card" {
		t.Fatalf("names %q, %q", nt.name(a), nt.name(c))
	}
	nt.release(a)
	if nt.len() != 2 || nt.name(a) != "process-batch" {
		t.Fatal("a name left while an entry still held it")
	}
	nt.release(a)
	if nt.len() != 1 {
		t.Fatalf("%d names after the last reference went, want 1", nt.len())
	}
	// The freed id is reused, for a new name, and the last-name cache does
	// not hand out the old one.
	d := nt.intern("refund", 1)
	if d != a || nt.name(d) != "refund" {
		t.Errorf("new name got id %d (%q), want the freed id %d", d, nt.name(d), a)
	}
	if e := nt.intern("process-batch", 1); e == d || nt.name(e) != "process-batch" {
		t.Errorf("re-interned name got id %d (%q)", e, nt.name(e))
	}
}

// TestNameTableIsBounded checks that a name table holds no more names than
// references, however many distinct names went through it.
func TestNameTableIsBounded(t *testing.T) {
	var nt nameTable
	var live []uint32
	for i := range 10_000 {
		live = append(live, nt.intern(fmt.Sprint("GET /orders/", i), 1))
		if len(live) > 100 {
			nt.release(live[0])
			live = live[1:]
		}
	}
	if nt.len() != 100 || len(nt.names) > 101 {
		t.Errorf("%d names in %d slots for 100 references", nt.len(), len(nt.names))
	}
	for _, id := range live {
		nt.release(id)
	}
	if nt.len() != 0 {
		t.Errorf("%d names left, want none", nt.len())
	}
}

func TestNameTableCopiesNames(t *testing.T) {
	var nt nameTable
	buf := []byte("process-batch and more")
	id := nt.intern(string(buf[:13]), 1)
	if got := nt.name(id); got != "process-batch" {
		t.Errorf("name %q", got)
	}
}
