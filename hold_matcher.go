package spanlinksprocessor

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

// holdMatcher decides, from OTTL span conditions, which spans are held.
// Any one condition matching holds the span.
type holdMatcher struct {
	seq ottl.ConditionSequence[*ottlspan.TransformContext]
}

// newHoldMatcher parses conds; the error names the condition that failed.
func newHoldMatcher(conds []string, set component.TelemetrySettings) (*holdMatcher, error) {
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
	return &holdMatcher{seq: seq}, nil
}

// match reports whether span, in its resource and scope, is to be held.
// A condition that fails to evaluate is logged and counts as not matching.
func (m *holdMatcher) match(ctx context.Context, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, span ptrace.Span) bool {
	tc := ottlspan.NewTransformContext(rs, ss, span)
	defer tc.Close()
	ok, _ := m.seq.Eval(ctx, tc)
	return ok
}
