package spanlinksprocessor

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
)

// designDefaults are the defaults listed in docs/contract.md, "Configuration".
func designDefaults() *Config {
	return &Config{
		MaxLinksPerSpan:      128,
		MaxAttributesPerLink: 128,
		Truncation:           "sample",
		Batch: BatchConfig{
			MinLinks:       2,
			SizeAttributes: []string{"messaging.batch.message_count", "batch.size"},
		},
		Backlinks: BacklinksConfig{
			Enabled:             true,
			Window:              30 * time.Second,
			Hold:                Hold{Mode: "auto"},
			Deliver:             "attributes",
			MaxHeldSpans:        100000,
			MaxHeldBytes:        268435456,
			MaxIndexEntries:     1000000,
			MaxBacklinksPerSpan: 32,
			EmitLinks:           false,
			Index:               designIndexDefaults(),
		},
	}
}

func TestConfigLoadValid(t *testing.T) {
	tests := []struct {
		name     string
		expected func() *Config
	}{
		{
			name:     "",
			expected: designDefaults,
		},
		{
			name: "custom",
			expected: func() *Config {
				return &Config{
					MaxLinksPerSpan:      64,
					MaxAttributesPerLink: 16,
					Truncation:           "first",
					Batch: BatchConfig{
						MinLinks:       5,
						SizeAttributes: []string{"app.batch.size", "messaging.batch.message_count"},
					},
					Backlinks: BacklinksConfig{
						Enabled: true,
						Window:  2 * time.Minute,
						Hold: Hold{Conditions: []string{
							`attributes["messaging.system"] == "kafka"`,
							`name == "receive-order"`,
						}},
						Deliver:             "attributes",
						MaxHeldSpans:        5000,
						MaxHeldBytes:        1048576,
						MaxIndexEntries:     20000,
						MaxBacklinksPerSpan: 8,
						EmitLinks:           true,
						Index:               designIndexDefaults(),
					},
				}
			},
		},
		{
			name: "hold_none",
			expected: func() *Config {
				c := designDefaults()
				c.Backlinks.Hold = Hold{Mode: "none"}
				return c
			},
		},
		{
			name: "backlinks_disabled",
			expected: func() *Config {
				c := designDefaults()
				c.Backlinks.Enabled = false
				return c
			},
		},
		{
			name:     "empty_sections",
			expected: designDefaults,
		},
		{
			name: "deliver_spans",
			expected: func() *Config {
				c := designDefaults()
				c.Backlinks.Deliver = "spans"
				return c
			},
		},
		{
			name: "window_zero_disabled",
			expected: func() *Config {
				c := designDefaults()
				c.Backlinks.Enabled = false
				c.Backlinks.Window = 0
				return c
			},
		},
	}
	for _, tt := range tests {
		id := component.NewIDWithName(typeStr, tt.name).String()
		t.Run(id, func(t *testing.T) {
			cfg, err := loadConfig(t, "testdata/config.yaml", id)
			require.NoError(t, err)
			require.NoError(t, confmap.Validate(cfg))
			require.NoError(t, cfg.Validate())
			require.Equal(t, tt.expected(), cfg)
		})
	}
}

func TestConfigLoadInvalid(t *testing.T) {
	const (
		atUnmarshal = "unmarshal"
		atValidate  = "validate"
	)
	tests := []struct {
		name string
		// stage is where the error must surface: while decoding the YAML or
		// in Validate.
		stage string
		// contains are substrings of the error: the key and the bad value.
		contains []string
		// excludes must not be in the error.
		excludes []string
	}{
		{
			name:     "max_links_zero",
			stage:    atValidate,
			contains: []string{"max_links_per_span", "got 0"},
		},
		{
			name:     "max_attributes_negative",
			stage:    atValidate,
			contains: []string{"max_attributes_per_link", "got -1"},
		},
		{
			name:     "truncation_random",
			stage:    atValidate,
			contains: []string{"truncation", `"random"`},
		},
		{
			name:     "min_links_zero",
			stage:    atValidate,
			contains: []string{"batch.min_links", "got 0"},
		},
		{
			name:     "size_attribute_empty",
			stage:    atValidate,
			contains: []string{"batch.size_attributes[1]", "empty"},
		},
		{
			name:     "window_zero",
			stage:    atValidate,
			contains: []string{"backlinks.window: 0s is under 1s", "durations take a unit, e.g. 30s"},
		},
		{
			// A bare number is nanoseconds: 10 would pair nothing.
			name:     "window_bare_number",
			stage:    atValidate,
			contains: []string{"backlinks.window: 10ns is under 1s; durations take a unit, e.g. 30s"},
		},
		{
			name:     "window_500ms",
			stage:    atValidate,
			contains: []string{"backlinks.window: 500ms is under 1s"},
		},
		{
			name:     "max_held_zero",
			stage:    atValidate,
			contains: []string{"backlinks.max_held_spans", "got 0"},
		},
		{
			name:     "max_held_bytes_negative",
			stage:    atValidate,
			contains: []string{"backlinks.max_held_bytes", "got -1"},
		},
		{
			name:     "max_index_negative",
			stage:    atValidate,
			contains: []string{"backlinks.max_index_entries", "got -1"},
		},
		{
			name:     "max_backlinks_zero",
			stage:    atValidate,
			contains: []string{"backlinks.max_backlinks_per_span", "got 0"},
		},
		{
			name:     "hold_unknown_word",
			stage:    atValidate,
			contains: []string{"backlinks.hold", `"sometimes"`},
		},
		{
			name:     "hold_empty_list",
			stage:    atValidate,
			contains: []string{"backlinks.hold", "empty list"},
		},
		{
			name:     "hold_not_string",
			stage:    atUnmarshal,
			contains: []string{"backlinks", "hold[0]", "42"},
		},
		{
			name:     "hold_unparsable",
			stage:    atValidate,
			contains: []string{"backlinks.hold[1]", `"name =="`},
		},
		{
			name:     "hold_unknown_function",
			stage:    atValidate,
			contains: []string{"backlinks.hold[0]", "IsKafkaSpan"},
		},
		{
			name:     "deliver_unknown",
			stage:    atValidate,
			contains: []string{"backlinks.deliver", `"events"`},
		},
		{
			name:  "deliver_spans_with_hold",
			stage: atValidate,
			contains: []string{"backlinks.window: 10s means nothing with backlinks.deliver: spans",
				"backlinks.hold: all means nothing", "backlinks.index.backend: redis means nothing"},
		},
		{
			// A misspelt top-level key is named with the keys there are,
			// not under the Go type the section is decoded into.
			name:     "unknown_key",
			stage:    atUnmarshal,
			contains: []string{"has unknown key max_link_per_span; the keys are max_links_per_span, max_attributes_per_link, truncation, batch, backlinks"},
			excludes: []string{"spanlinksprocessor.", "configKeys"},
		},
		{
			// Named by its section and the keys there are, not by the Go
			// type it is decoded into.
			name:     "unknown_backlinks_key",
			stage:    atUnmarshal,
			contains: []string{"'backlinks' has unknown key windw; the keys are enabled, window, hold,"},
			excludes: []string{"spanlinksprocessor.", "backlinksKeys"},
		},
		{
			name:     "unknown_backlinks_keys",
			stage:    atUnmarshal,
			contains: []string{"'backlinks' has unknown keys max_held, windw;"},
		},
	}
	for _, tt := range tests {
		id := component.NewIDWithName(typeStr, tt.name).String()
		t.Run(id, func(t *testing.T) {
			cfg, err := loadConfig(t, "testdata/config.yaml", id)
			if tt.stage == atUnmarshal {
				require.Error(t, err, "the YAML must be refused while decoding")
			} else {
				require.NoError(t, err, "the YAML must decode; Validate refuses it")
				err = confmap.Validate(cfg)
				require.Error(t, err)
				// The method alone gives the same verdict.
				require.EqualError(t, cfg.Validate(), err.Error())
			}
			t.Logf("error: %v", err)
			for _, s := range tt.contains {
				assert.Contains(t, err.Error(), s)
			}
			for _, s := range tt.excludes {
				assert.NotContains(t, err.Error(), s)
			}
		})
	}
}

func TestConfigValidateReportsEveryBadKey(t *testing.T) {
	cfg, err := loadConfig(t, "testdata/config.yaml", "spanlinks/many_bad")
	require.NoError(t, err)
	err = cfg.Validate()
	require.Error(t, err)
	t.Logf("error: %v", err)

	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined), "errors are joined")
	assert.Len(t, joined.Unwrap(), 6)
	for _, s := range []string{
		"max_links_per_span: must be greater than 0, got 0",
		`truncation: "random"`,
		"batch.min_links: must be greater than 0, got -3",
		"backlinks.window: 0s is under 1s; durations take a unit, e.g. 30s",
		"backlinks.max_backlinks_per_span: must be greater than 0, got 0",
		"backlinks.hold: [] is an empty list",
	} {
		assert.Contains(t, err.Error(), s)
	}
	// The keys that were right are not named.
	for _, s := range []string{"max_attributes_per_link", "max_held_spans", "max_index_entries", "size_attributes"} {
		assert.NotContains(t, err.Error(), s)
	}
	require.Error(t, confmap.Validate(cfg))
	assert.Equal(t, err.Error(), confmap.Validate(cfg).Error())
}

func TestConfigValidateSkipsBacklinksWhenDisabled(t *testing.T) {
	cfg := designDefaults()
	cfg.Backlinks.Enabled = false
	cfg.Backlinks.Window = 0
	cfg.Backlinks.MaxHeldSpans = 0
	cfg.Backlinks.MaxHeldBytes = 0
	cfg.Backlinks.MaxIndexEntries = 0
	cfg.Backlinks.MaxBacklinksPerSpan = 0
	assert.NoError(t, cfg.Validate())

	cfg.Backlinks.Enabled = true
	err := cfg.Validate()
	require.Error(t, err)
	for _, s := range []string{"backlinks.window", "backlinks.max_held_spans", "backlinks.max_held_bytes", "backlinks.max_index_entries", "backlinks.max_backlinks_per_span"} {
		assert.Contains(t, err.Error(), s)
	}
}

func TestConfigValidateHoldModes(t *testing.T) {
	tests := []struct {
		name    string
		hold    Hold
		wantErr []string
	}{
		{name: "all", hold: Hold{Mode: HoldAll}},
		{name: "none", hold: Hold{Mode: HoldNone}},
		{name: "conditions", hold: Hold{Conditions: []string{`name == "receive-order"`}}},
		{name: "unknown mode", hold: Hold{Mode: "sometimes"}, wantErr: []string{"backlinks.hold", `"sometimes"`}},
		{name: "mode with conditions", hold: Hold{Mode: HoldAll, Conditions: []string{`name == "x"`}}, wantErr: []string{"backlinks.hold", `"all"`}},
		{name: "nil list", hold: Hold{}, wantErr: []string{"backlinks.hold", "empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := designDefaults()
			cfg.Backlinks.Hold = tt.hold
			err := cfg.Validate()
			if len(tt.wantErr) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, s := range tt.wantErr {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestConfigUnmarshalHoldForms(t *testing.T) {
	tests := []struct {
		name    string
		hold    any
		want    Hold
		wantErr string
	}{
		{name: "all", hold: "all", want: Hold{Mode: HoldAll}},
		{name: "none", hold: "none", want: Hold{Mode: HoldNone}},
		{name: "list", hold: []any{`name == "a"`, `kind == SPAN_KIND_SERVER`}, want: Hold{Conditions: []string{`name == "a"`, `kind == SPAN_KIND_SERVER`}}},
		{name: "null", hold: nil, want: Hold{}},                          // refused by Validate
		{name: "word", hold: "sometimes", want: Hold{Mode: "sometimes"}}, // refused by Validate
		{name: "number", hold: 7, wantErr: "hold: 7"},
		{name: "map", hold: map[string]any{"all": true}, wantErr: "hold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			conf := confmap.NewFromStringMap(map[string]any{
				"backlinks": map[string]any{"hold": tt.hold},
			})
			err := conf.Unmarshal(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.Backlinks.Hold)
			// The other backlinks keys keep their defaults.
			want := designDefaults()
			want.Backlinks.Hold = tt.want
			assert.Equal(t, want, cfg)
		})
	}
}

// TestConfigMarshalRoundTrip: a config written back out (as the collector
// does to print it) reads back the same, hold included in every form.
func TestConfigMarshalRoundTrip(t *testing.T) {
	for _, hold := range []Hold{{Mode: HoldAll}, {Mode: HoldNone}, {Conditions: []string{`name == "receive-order"`, `kind == SPAN_KIND_CONSUMER`}}} {
		cfg := designDefaults()
		cfg.Backlinks.Hold = hold
		cfg.Backlinks.Window = 45 * time.Second
		conf := confmap.New()
		require.NoError(t, conf.Marshal(cfg))
		got := createDefaultConfig().(*Config)
		require.NoError(t, conf.Unmarshal(got))
		assert.Equal(t, cfg, got)
	}
}

// TestConfigWindowBound: 1s is the shortest window accepted, whatever the
// other keys; a disabled backlinks section is not checked.
func TestConfigWindowBound(t *testing.T) {
	cfg := designDefaults()
	cfg.Backlinks.Window = time.Second
	assert.NoError(t, cfg.Validate())
	cfg.Backlinks.Window = time.Second - time.Nanosecond
	assert.EqualError(t, cfg.Validate(), "backlinks.window: 999.999999ms is under 1s; durations take a unit, e.g. 30s")
	cfg.Backlinks.Enabled = false
	assert.NoError(t, cfg.Validate())
}

// TestConfigPartition: either key is read; both set is refused by Validate
// naming both keys and values; an unknown key is refused while decoding.
func TestConfigPartition(t *testing.T) {
	cfg, err := loadConfig(t, "testdata/config.yaml", "spanlinks/partition_metadata")
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, PartitionConfig{MetadataKey: "x-tenant"}, cfg.Backlinks.Partition)

	cfg, err = loadConfig(t, "testdata/config.yaml", "spanlinks/partition_resource")
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, PartitionConfig{ResourceAttribute: "tenant.id"}, cfg.Backlinks.Partition)

	cfg, err = loadConfig(t, "testdata/config.yaml", "spanlinks/partition_both")
	require.NoError(t, err)
	assert.EqualError(t, cfg.Validate(), `backlinks.partition: metadata_key "x-tenant" and resource_attribute "tenant.id" are both set; set at most one`)
	require.Error(t, confmap.Validate(cfg))

	_, err = loadConfig(t, "testdata/config.yaml", "spanlinks/partition_unknown_key")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "header")

	// The default partitions nothing.
	assert.Equal(t, PartitionConfig{}, createDefaultConfig().(*Config).Backlinks.Partition)
}

// TestConfigPartitionRoundTrip: a partition written back out reads back
// the same.
func TestConfigPartitionRoundTrip(t *testing.T) {
	for _, pc := range []PartitionConfig{{MetadataKey: "x-tenant"}, {ResourceAttribute: "tenant.id"}} {
		cfg := createDefaultConfig().(*Config)
		cfg.Backlinks.Partition = pc
		conf := confmap.New()
		require.NoError(t, conf.Marshal(cfg))
		got := createDefaultConfig().(*Config)
		require.NoError(t, conf.Unmarshal(got))
		assert.Equal(t, pc, got.Backlinks.Partition)
	}
}
