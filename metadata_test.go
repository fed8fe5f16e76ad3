package spanlinksprocessor

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/spanlinks/spanlinksprocessor/internal/hold"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// The code in internal/metadata and documentation.md are generated from
// metadata.yaml by `make generate`. These tests check what generation does
// not: that they were regenerated after metadata.yaml changed, and that the
// reasons the code records are the ones metadata.yaml lists.

// declaredAttribute is one attribute as metadata.yaml describes it.
type declaredAttribute struct {
	NameOverride string   `mapstructure:"name_override"`
	Description  string   `mapstructure:"description"`
	Type         string   `mapstructure:"type"`
	Enum         []string `mapstructure:"enum"`
}

// declaredMetric is one metric as metadata.yaml describes it.
type declaredMetric struct {
	Description           string   `mapstructure:"description"`
	ExtendedDocumentation string   `mapstructure:"extended_documentation"`
	Unit                  string   `mapstructure:"unit"`
	Enabled               bool     `mapstructure:"enabled"`
	Stability             string   `mapstructure:"stability"`
	Attributes            []string `mapstructure:"attributes"`
	Sum                   *struct {
		ValueType string `mapstructure:"value_type"`
		Monotonic bool   `mapstructure:"monotonic"`
		Async     bool   `mapstructure:"async"`
	} `mapstructure:"sum"`
	Gauge *struct {
		ValueType string `mapstructure:"value_type"`
		Async     bool   `mapstructure:"async"`
	} `mapstructure:"gauge"`
}

// declared reads metadata.yaml's attributes and telemetry metrics, the
// metrics keyed by the name the collector exports (with the otelcol_ prefix).
func declared(t *testing.T) (map[string]declaredAttribute, map[string]declaredMetric) {
	t.Helper()
	conf, err := confmaptest.LoadConf("metadata.yaml")
	require.NoError(t, err)
	var attrs map[string]declaredAttribute
	sub, err := conf.Sub("attributes")
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(&attrs))
	var raw map[string]declaredMetric
	sub, err = conf.Sub("telemetry::metrics")
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(&raw))
	metrics := make(map[string]declaredMetric, len(raw))
	for k, v := range raw {
		metrics["otelcol_"+k] = v
	}
	return attrs, metrics
}

// recordedMetrics records every metric of the processor, with every reason
// the code has for it, and returns what an in-memory reader collects.
func recordedMetrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	tm, err := newTelemetry(tel.NewTelemetrySettings(), hold.New(1, 10, 1000), linkindex.NewMemory(time.Second, 10))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, tm.shutdown()) })
	ctx := context.Background()
	tm.record(ctx, &counts{invalid: 1, duplicate: 1, self: 1, limit: 1, attrsDropped: 1, batchSpans: 1, backlinkedSpans: 1, missedBacklinks: 1,
		backlinkSpans: 1, backlinkSpansUnsampled: 1})
	for _, opt := range tm.releaseReason {
		tm.releasedSpans.Add(ctx, 1, opt)
	}
	tm.releaseErrors.Add(ctx, 1)
	for _, op := range indexOps {
		tm.indexFailures.indexFailed(op, errors.New("redis down"))
	}
	tm.storedSpans.Add(ctx, 1)
	tm.replayedSpans.Add(ctx, 1)
	tm.storageCorrupt.Add(ctx, 1)
	for _, op := range storageOps {
		tm.storage.storageFailed(op, "key", errors.New("disk full"))
	}

	out := map[string]metricdata.Metrics{}
	for _, name := range allMetrics {
		m, err := tel.GetMetric(name)
		require.NoError(t, err, name)
		out[name] = m
	}
	return out
}

// TestMetricsRegenerated: the instruments internal/metadata creates are
// the ones metadata.yaml declares, with its description, unit and kind;
// when this fails, metadata.yaml changed without `make generate`.
func TestMetricsRegenerated(t *testing.T) {
	_, decl := declared(t)
	recorded := recordedMetrics(t)
	assert.ElementsMatch(t, keys(decl), keys(recorded), "run make generate")
	for name, m := range recorded {
		d, ok := decl[name]
		if !assert.True(t, ok, "%s is not in metadata.yaml", name) {
			continue
		}
		assert.True(t, d.Enabled, name)
		// mdatagen appends the stability to the description.
		assert.Equal(t, d.Description+" ["+cases(d.Stability)+"]", m.Description, "%s: run make generate", name)
		assert.Equal(t, d.Unit, m.Unit, "%s: run make generate", name)
		switch data := m.Data.(type) {
		case metricdata.Sum[int64]:
			if assert.NotNil(t, d.Sum, "%s is a sum", name) {
				assert.Equal(t, "int", d.Sum.ValueType, name)
				assert.Equal(t, d.Sum.Monotonic, data.IsMonotonic, name)
			}
		case metricdata.Gauge[int64]:
			if assert.NotNil(t, d.Gauge, "%s is a gauge", name) {
				assert.Equal(t, "int", d.Gauge.ValueType, name)
			}
		default:
			t.Errorf("%s: unexpected data %T", name, m.Data)
		}
	}
}

// TestMetricReasons: a metric that declares an attribute (a reason, or the
// op of index_failures) carries it on every point, and the values the code
// records are exactly the ones metadata.yaml (and so documentation.md)
// lists; a metric that declares none carries no attributes.
func TestMetricReasons(t *testing.T) {
	attrs, decl := declared(t)
	for name, m := range recordedMetrics(t) {
		t.Run(name, func(t *testing.T) {
			d := decl[name]
			require.LessOrEqual(t, len(d.Attributes), 1, "one reason attribute at most")
			var want []string
			key := reasonKey
			if len(d.Attributes) == 1 {
				a, ok := attrs[d.Attributes[0]]
				require.True(t, ok, "attribute %s is not declared", d.Attributes[0])
				if d.Attributes[0] == opKey {
					key = opKey
					require.Empty(t, a.NameOverride)
				} else if a.NameOverride == opKey { // storage_op
					key = opKey
				} else {
					require.Equal(t, reasonKey, a.NameOverride)
				}
				want = a.Enum
				require.NotEmpty(t, want, "attribute %s lists no values", d.Attributes[0])
			}
			var got []string
			for _, set := range pointAttributes(t, m) {
				if len(want) == 0 {
					assert.Zero(t, set.Len(), "%s has no declared attributes, got %v", name, set.ToSlice())
					continue
				}
				v, ok := set.Value(attribute.Key(key))
				if assert.True(t, ok, "a point of %s has no %s: %v", name, key, set.ToSlice()) {
					assert.Equal(t, 1, set.Len(), "%s: %v", name, set.ToSlice())
					got = append(got, v.AsString())
				}
			}
			assert.ElementsMatch(t, want, got)
		})
	}
}

// pointAttributes returns the attribute sets of m's points.
func pointAttributes(t *testing.T, m metricdata.Metrics) []attribute.Set {
	t.Helper()
	var sets []attribute.Set
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	default:
		t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
	}
	require.NotEmpty(t, sets, "%s has no points", m.Name)
	return sets
}

// TestDocumentationRegenerated: documentation.md has a section for each
// declared metric with its description and extended documentation; when
// this fails, metadata.yaml changed without `make generate`.
func TestDocumentationRegenerated(t *testing.T) {
	b, err := os.ReadFile("documentation.md")
	require.NoError(t, err)
	doc := string(b)
	var sections []string
	for _, line := range strings.Split(doc, "\n") {
		if name, ok := strings.CutPrefix(line, "### otelcol_"); ok {
			sections = append(sections, "otelcol_"+name)
		}
	}
	_, decl := declared(t)
	assert.ElementsMatch(t, keys(decl), sections, "run make generate")
	for name, d := range decl {
		i := strings.Index(doc, "### "+name+"\n")
		if !assert.GreaterOrEqual(t, i, 0, name) {
			continue
		}
		section := doc[i:]
		if j := strings.Index(section[4:], "\n### "); j >= 0 {
			section = section[:j+4]
		}
		assert.Contains(t, section, d.Description, "%s: run make generate", name)
		assert.Contains(t, section, d.ExtendedDocumentation, "%s: run make generate", name)
		assert.Contains(t, section, "| "+d.Unit+" |", "%s: run make generate", name)
	}
}

// cases capitalises s: "development" -> "Development".
func cases(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
