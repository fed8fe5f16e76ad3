package spanlinksprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/spanlinks/spanlinksprocessor/internal/metadata"
)

// typeStr is the component type, as the tests name it.
var typeStr = metadata.Type

// TestFactoryType pins what metadata.yaml declares: the type users write in
// their configurations and the stability. (generated_component_test.go
// checks the factory's type against metadata.yaml as well.)
func TestFactoryType(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, "spanlinks", f.Type().String())
	assert.Equal(t, component.StabilityLevelDevelopment, f.TracesStability())
}

func TestFactoryDefaultConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig()
	require.Equal(t, designDefaults(), cfg)
	assert.NoError(t, componenttest.CheckConfigStruct(cfg))
	assert.NoError(t, confmap.Validate(cfg))
	assert.NoError(t, cfg.(*Config).Validate())

	// Each call returns its own config: changing one leaves the next intact.
	cfg.(*Config).Batch.SizeAttributes[0] = "changed"
	assert.Equal(t, designDefaults(), NewFactory().CreateDefaultConfig())
}

func TestFactoryCreateTraces(t *testing.T) {
	tests := []struct {
		name   string
		config func(t *testing.T) *Config
	}{
		{name: "default", config: func(*testing.T) *Config { return createDefaultConfig().(*Config) }},
		{name: "custom", config: func(t *testing.T) *Config {
			cfg, err := loadConfig(t, "testdata/config.yaml", "spanlinks/custom")
			require.NoError(t, err)
			return cfg
		}},
		{name: "hold_none", config: func(t *testing.T) *Config {
			cfg, err := loadConfig(t, "testdata/config.yaml", "spanlinks/hold_none")
			require.NoError(t, err)
			return cfg
		}},
		{name: "backlinks_disabled", config: func(t *testing.T) *Config {
			cfg, err := loadConfig(t, "testdata/config.yaml", "spanlinks/backlinks_disabled")
			require.NoError(t, err)
			return cfg
		}},
		{name: "window_zero_disabled", config: func(t *testing.T) *Config {
			cfg, err := loadConfig(t, "testdata/config.yaml", "spanlinks/window_zero_disabled")
			require.NoError(t, err)
			return cfg
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFactory()
			cfg := tt.config(t)
			require.NoError(t, cfg.Validate())

			p, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(typeStr), cfg, consumertest.NewNop())
			require.NoError(t, err)
			require.NotNil(t, p)
			assert.True(t, p.Capabilities().MutatesData)

			require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
			require.NoError(t, p.ConsumeTraces(context.Background(), ptrace.NewTraces()))
			require.NoError(t, p.Shutdown(context.Background()))
		})
	}
}

func TestFactoryCreateTracesBadHoldCondition(t *testing.T) {
	// Validate refuses it first in a collector; the factory must not panic
	// or build a half-made processor when called directly.
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Hold = Hold{Conditions: []string{"name =="}}
	p, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(typeStr), cfg, consumertest.NewNop())
	require.Error(t, err)
	assert.Nil(t, p)
	assert.Contains(t, err.Error(), "hold[0]")
}

func TestFactoryVerifyShutdown(t *testing.T) {
	for _, name := range []string{"", "custom", "hold_none", "backlinks_disabled"} {
		id := component.NewIDWithName(typeStr, name).String()
		t.Run(id, func(t *testing.T) {
			cfg, err := loadConfig(t, "testdata/config.yaml", id)
			require.NoError(t, err)
			// Every span given before Shutdown reaches the next consumer,
			// held ones included.
			processortest.VerifyShutdown(t, NewFactory(), cfg)
		})
	}
}

func TestFactoryOnlyTraces(t *testing.T) {
	f := NewFactory()
	set := processortest.NewNopSettings(typeStr)
	cfg := f.CreateDefaultConfig()

	m, err := f.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
	require.ErrorIs(t, err, pipeline.ErrSignalNotSupported)
	assert.Nil(t, m)

	l, err := f.CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.ErrorIs(t, err, pipeline.ErrSignalNotSupported)
	assert.Nil(t, l)
}
