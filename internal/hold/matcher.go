package hold

import (
	"context"
	"fmt"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspan"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/ottlfuncs"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// Matcher chooses, from OTTL span conditions, which spans are held: any
// one condition matching holds the span.
type Matcher struct {
	seq ottl.ConditionSequence[*ottlspan.TransformContext]
}

// NewMatcher parses conds, the backlinks.hold setting; the error names the
// condition that failed.
func NewMatcher(conds []string, set component.TelemetrySettings) (*Matcher, error) {
	if set.Logger == nil {
		set.Logger = zap.NewNop()
	}
	parser, err := ottlspan.NewParser(ottlfuncs.StandardConverters[*ottlspan.TransformContext](), set)
	if err != nil {
		return nil, fmt.Errorf("creating the OTTL span parser: %w", err)
	}
	parsed := make([]*ottl.Condition[*ottlspan.TransformContext], 0, len(conds))
	for i, c := range conds {
		p, err := parser.ParseCondition(c)
		if err != nil {
			return nil, fmt.Errorf("hold[%d]: OTTL condition %q: %w", i, c, err)
		}
		parsed = append(parsed, p)
	}
	seq := ottlspan.NewConditionSequence(parsed, set, ottlspan.WithConditionSequenceErrorMode(ottl.IgnoreError))
	return &Matcher{seq: seq}, nil
}

// Match reports whether span, in its resource and scope, is to be held.
// A condition that fails to evaluate counts as not matching.
func (m *Matcher) Match(ctx context.Context, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, span ptrace.Span) bool {
	tc := ottlspan.NewTransformContext(rs, ss, span)
	defer tc.Close()
	ok, _ := m.seq.Eval(ctx, tc)
	return ok
}
