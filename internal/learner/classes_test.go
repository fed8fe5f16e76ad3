package learner

import (
	"fmt"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestPassedRemembersEachSpansClass: Passed interns a resource's recent
// classes once, yet remembers every span with its own class: with more
// classes in turn than it keeps at hand (three names, each of two kinds), and with a
// class table so small that classes are evicted within the call.
func TestPassedRemembersEachSpansClass(t *testing.T) {
	for _, limit := range []int{maxClasses, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			l := New(Options{Window: 30 * time.Second, Limit: 1000})
			l.classes.limit = limit
			td := orders(1, 60)
			spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
			want := make([]Class, spans.Len())
			for i := range spans.Len() {
				s := spans.At(i)
				s.SetName(fmt.Sprint("op-", i%3))
				s.SetKind(ptrace.SpanKind(1 + i/3%2))
				want[i] = Class{Service: "order-api", Name: s.Name(), Kind: s.Kind()}
			}
			l.Passed(td, start, nil)
			require.Equal(t, spans.Len(), l.spans.len())
			for i := range spans.Len() {
				at := l.spans.findAll([]linkindex.Key{key(i + 1)}, nil)
				require.GreaterOrEqual(t, at[0], int32(0), "span %d remembered", i+1)
				c := l.classes.get(l.spans.entry(at[0]).class)
				if limit < maxClasses && c == nil {
					continue // evicted since: the table holds 3 of 6 classes
				}
				require.NotNil(t, c, "span %d's class", i+1)
				assert.Equal(t, want[i], c.key, "span %d", i+1)
			}
		})
	}
}
