package spanlinksprocessor

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// declaredMetric is one metric as metadata.yaml describes it.
type declaredMetric struct {
	Description string   `mapstructure:"description"`
	Unit        string   `mapstructure:"unit"`
	Enabled     bool     `mapstructure:"enabled"`
	Attributes  []string `mapstructure:"attributes"`
	Sum         *struct {
		ValueType string `mapstructure:"value_type"`
		Monotonic bool   `mapstructure:"monotonic"`
		Async     bool   `mapstructure:"async"`
	} `mapstructure:"sum"`
	Gauge *struct {
		ValueType string `mapstructure:"value_type"`
		Async     bool   `mapstructure:"async"`
	} `mapstructure:"gauge"`
}

// declaredMetrics reads metadata.yaml's telemetry metrics, keyed by the
// name the collector exports (with the otelcol_ prefix).
func declaredMetrics(t *testing.T) map[string]declaredMetric {
	t.Helper()
	conf, err := confmaptest.LoadConf("metadata.yaml")
	require.NoError(t, err)
	sub, err := conf.Sub("telemetry::metrics")
	require.NoError(t, err)
	var raw map[string]declaredMetric
	require.NoError(t, sub.Unmarshal(&raw))
	out := make(map[string]declaredMetric, len(raw))
	for k, v := range raw {
		out["otelcol_"+k] = v
	}
	return out
}

// registeredMetrics records every metric of the processor once and returns
// what an in-memory reader collects.
func registeredMetrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	ix := linkindex.NewMemory(time.Second, 10)
	tm, err := newTelemetry(tel.NewTelemetrySettings(), newHold(1, 10, 1000), ix)
	require.NoError(t, err)
	ctx := context.Background()
	tm.record(ctx, &counts{invalid: 1, duplicate: 1, self: 1, limit: 1, attrsDropped: 1, batchSpans: 1, backlinkedSpans: 1})
	tm.releasedSpans.Add(ctx, 1, tm.releaseReason[releaseWindow])
	tm.releaseErrors.Add(ctx, 1)

	out := map[string]metricdata.Metrics{}
	for _, name := range []string{
		metricLinksDropped, metricLinkAttributesDropped, metricBatchSpans, metricBacklinkedSpans,
		metricHeldSpans, metricReleasedSpans, metricReleaseErrors, metricIndexEntries, metricIndexEvictions,
	} {
		m, err := tel.GetMetric(name)
		require.NoError(t, err, name)
		out[name] = m
	}
	return out
}

// TestMetadataMatchesCode: metadata.yaml declares exactly the metrics the
// code registers, with the same description, unit and kind.
func TestMetadataMatchesCode(t *testing.T) {
	declared := declaredMetrics(t)
	registered := registeredMetrics(t)
	assert.ElementsMatch(t, keys(declared), keys(registered))
	for name, m := range registered {
		d, ok := declared[name]
		if !assert.True(t, ok, "%s is not in metadata.yaml", name) {
			continue
		}
		assert.True(t, d.Enabled, name)
		assert.Equal(t, d.Description, m.Description, name)
		assert.Equal(t, d.Unit, m.Unit, name)
		switch data := m.Data.(type) {
		case metricdata.Sum[int64]:
			if assert.NotNil(t, d.Sum, "%s is a sum", name) {
				assert.Equal(t, "int", d.Sum.ValueType, name)
				assert.Equal(t, data.IsMonotonic, d.Sum.Monotonic, name)
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

// TestDocumentationListsMetrics: documentation.md has a section for each
// declared metric with its description and unit.
func TestDocumentationListsMetrics(t *testing.T) {
	b, err := os.ReadFile("documentation.md")
	require.NoError(t, err)
	doc := string(b)
	var sections []string
	for _, line := range strings.Split(doc, "\n") {
		if name, ok := strings.CutPrefix(line, "## otelcol_"); ok {
			sections = append(sections, "otelcol_"+name)
		}
	}
	declared := declaredMetrics(t)
	assert.ElementsMatch(t, keys(declared), sections)
	for name, d := range declared {
		i := strings.Index(doc, "## "+name+"\n")
		if !assert.GreaterOrEqual(t, i, 0, name) {
			continue
		}
		section := doc[i:]
		if j := strings.Index(section[3:], "\n## "); j >= 0 {
			section = section[:j+3]
		}
		assert.Contains(t, section, d.Description, name)
		assert.Contains(t, section, "| "+d.Unit+" |", name)
		for _, a := range d.Attributes {
			assert.Contains(t, section, a, name)
		}
	}
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
