package learner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestLearntRoundTrip: the classes a learner holds, encoded, decoded and
// restored into a new learner, are held there, with their linked times; a
// class no link has targeted for forgetWindows windows is not restored.
func TestLearntRoundTrip(t *testing.T) {
	const window = 30 * time.Second
	l := New(Options{Auto: true, Window: window, Limit: 10})
	l.Passed(orders(1, 1), start, nil)
	require.Equal(t, 1, l.Links(linksTo(1), start.Add(time.Second)))
	learnt, v1 := l.Learnt()
	require.Len(t, learnt, 1)
	assert.Equal(t, start.Add(time.Second), learnt[0].Linked)

	old := Learnt{Class: Class{Service: "batch", Name: "process-batch", Kind: ptrace.SpanKindConsumer}, Linked: start.Add(-forgetWindows * window)}
	got, err := DecodeLearnt(EncodeLearnt(append(learnt, old)))
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.True(t, got[0].Linked.Equal(learnt[0].Linked))
	assert.Equal(t, learnt[0].Class, got[0].Class)

	r := New(Options{Auto: true, Window: window, Limit: 10})
	_, v0 := r.Learnt()
	r.Restore(got, start.Add(time.Second))
	held, v := r.Learnt()
	assert.NotEqual(t, v0, v, "restoring a class changes the version")
	require.Len(t, held, 1, "the class forgotten by now is not restored")
	assert.Equal(t, learnt[0].Class, held[0].Class)
	td := orders(2, 2)
	rs := td.ResourceSpans().At(0)
	assert.True(t, r.Match(t.Context(), rs, rs.ScopeSpans().At(0), rs.ScopeSpans().At(0).Spans().At(0)),
		"a span of the restored class is held at once")

	l.Expire(start.Add(forgetWindows*window + 2*time.Second))
	_, v2 := l.Learnt()
	assert.NotEqual(t, v1, v2, "a class forgotten changes the version")

	n := New(Options{Window: window, Limit: 10}) // not hold: auto
	n.Restore(got, start)
	held, _ = n.Learnt()
	assert.Empty(t, held, "only hold: auto holds classes")
}

// TestDecodeLearntRefusesDamage: a value cut short, changed, of another
// version or claiming too many classes is an error, never a panic.
func TestDecodeLearntRefusesDamage(t *testing.T) {
	v := EncodeLearnt([]Learnt{{Class: Class{Service: "order-api", Name: "receive-order"}, Linked: start}})
	for i := range v {
		_, err := DecodeLearnt(v[:i])
		assert.Error(t, err, "cut at %d", i)
		bad := append([]byte(nil), v...)
		bad[i] ^= 0x40
		_, err = DecodeLearnt(bad)
		assert.Error(t, err, "byte %d changed", i)
	}
	_, err := DecodeLearnt(nil)
	assert.Error(t, err)
}
