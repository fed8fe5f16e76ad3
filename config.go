package spanlinksprocessor

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"

	"github.com/spanlinks/spanlinksprocessor/internal/hold"
)

// Truncation is the strategy that chooses the links kept beyond
// max_links_per_span.
type Truncation string

// Truncation strategies.
const (
	// TruncateSample keeps the links whose targets hash lowest: a uniform,
	// deterministic sample.
	TruncateSample Truncation = "sample"
	// TruncateFirst keeps the earliest links.
	TruncateFirst Truncation = "first"
)

// HoldMode is a hold setting given as a word; any other hold is a list of
// OTTL span conditions.
type HoldMode string

// Hold modes.
const (
	// HoldAll holds every span for up to the window.
	HoldAll HoldMode = "all"
	// HoldNone holds no span: only linkers that arrived first give backlinks.
	HoldNone HoldMode = "none"
	// HoldAuto holds the classes of span that links target, learnt as
	// links arrive; spans of other classes pass at once.
	HoldAuto HoldMode = "auto"
)

// Deliver is the backlinks.deliver setting: how a backlink reaches the span
// a link targets.
type Deliver string

// Ways to deliver backlinks.
const (
	// DeliverAttributes writes spanlinks.backlinks.* attributes on the
	// linked-to span itself: the index, the hold, and in a fleet a shared
	// index pair it with its linkers.
	DeliverAttributes Deliver = "attributes"
	// DeliverSpans emits, for each kept valid link, a backlink span into the
	// target's trace (backlink_spans.go): no index, no hold, no shared state.
	DeliverSpans Deliver = "spans"
)

// minWindow is the shortest backlinks.window: a bare number is read as
// nanoseconds, so `window: 10` would be 10ns and pair nothing.
const minWindow = time.Second

// Config is the configuration of the spanlinks processor.
type Config struct {
	// MaxLinksPerSpan is how many links a span keeps after repair.
	MaxLinksPerSpan int `mapstructure:"max_links_per_span"`
	// MaxAttributesPerLink is how many attributes a link keeps.
	MaxAttributesPerLink int `mapstructure:"max_attributes_per_link"`
	// Truncation chooses the links kept beyond MaxLinksPerSpan: sample or first.
	Truncation Truncation `mapstructure:"truncation"`
	// Batch chooses which spans are annotated as batch spans.
	Batch BatchConfig `mapstructure:"batch"`
	// Backlinks configures the link index and the backlinks written on origin spans.
	Backlinks BacklinksConfig `mapstructure:"backlinks"`
}

// BatchConfig chooses which spans are annotated as batch spans.
type BatchConfig struct {
	// MinLinks is how many links (before repair, plus the incoming dropped
	// count) make a span a batch span.
	MinLinks int `mapstructure:"min_links"`
	// SizeAttributes are span attributes, read in order, that declare the
	// size of the batch when the application sampled its links.
	SizeAttributes []string `mapstructure:"size_attributes"`
}

// BacklinksConfig configures the link index and the backlinks.
type BacklinksConfig struct {
	// Enabled turns indexing and backlinks on.
	Enabled bool `mapstructure:"enabled"`
	// Window is the pairing window: how long index entries live and the
	// longest a span is held.
	Window time.Duration `mapstructure:"window"`
	// Hold chooses the spans held for up to Window so that linkers arriving
	// after them still give them backlinks. Read and written by Unmarshal
	// and Marshal, since it is a string or a list.
	Hold Hold `mapstructure:"hold"`
	// Deliver is DeliverAttributes or DeliverSpans.
	Deliver Deliver `mapstructure:"deliver"`
	// Storage is the ID of a storage extension (e.g. file_storage) that
	// keeps the held spans, so that a crash loses none of them; empty: the
	// hold lives in memory only.
	Storage string `mapstructure:"storage"`
	// MaxHeldSpans bounds the hold; past it the oldest spans are released early.
	MaxHeldSpans int `mapstructure:"max_held_spans"`
	// MaxHeldBytes bounds the hold by the protobuf size of the spans held;
	// past it the oldest spans are released early.
	MaxHeldBytes int `mapstructure:"max_held_bytes"`
	// MaxIndexEntries bounds the index; past it the oldest entries are evicted.
	MaxIndexEntries int `mapstructure:"max_index_entries"`
	// MaxBacklinksPerSpan bounds the backlink lists written on one span.
	MaxBacklinksPerSpan int `mapstructure:"max_backlinks_per_span"`
	// EmitLinks adds a reverse link to each linking span on the origin span.
	EmitLinks bool `mapstructure:"emit_links"`
	// Partition keeps tenants apart.
	Partition PartitionConfig `mapstructure:"partition"`
	// Index chooses where the link index lives.
	Index IndexConfig `mapstructure:"index"`
}

// PartitionConfig is backlinks.partition: where a span's tenant comes from.
// Links pair only within one tenant's partition, and when the hold is full
// the partition holding the most gives way first. At most one of the two
// keys is set; with neither, every span is in one partition.
type PartitionConfig struct {
	// MetadataKey is a client.Info metadata key (the receiver needs
	// include_metadata): its first value names the tenant of every span of
	// a request.
	MetadataKey string `mapstructure:"metadata_key"`
	// ResourceAttribute is a resource attribute whose value, as a string,
	// names the tenant of the spans under the resource.
	ResourceAttribute string `mapstructure:"resource_attribute"`
}

// on reports whether spans are partitioned.
func (c PartitionConfig) on() bool { return c.MetadataKey != "" || c.ResourceAttribute != "" }

// validate refuses both keys set, naming them.
func (c PartitionConfig) validate() error {
	if c.MetadataKey != "" && c.ResourceAttribute != "" {
		return fmt.Errorf("backlinks.partition: metadata_key %q and resource_attribute %q are both set; set at most one", c.MetadataKey, c.ResourceAttribute)
	}
	return nil
}

// Hold is the backlinks.hold setting: "all", "none", "auto", or a list of OTTL span
// conditions of which any one matching holds the span.
type Hold struct {
	// Mode is HoldAll, HoldNone, HoldAuto, or empty when Conditions apply.
	Mode HoldMode `mapstructure:"-"`
	// Conditions are OTTL span conditions; set only when Mode is empty.
	Conditions []string `mapstructure:"-"`
}

func createDefaultConfig() component.Config {
	return &Config{
		MaxLinksPerSpan:      128,
		MaxAttributesPerLink: 128,
		Truncation:           TruncateSample,
		Batch: BatchConfig{
			MinLinks:       2,
			SizeAttributes: []string{"messaging.batch.message_count", "batch.size"},
		},
		Backlinks: BacklinksConfig{
			Enabled:             true,
			Window:              30 * time.Second,
			Hold:                Hold{Mode: HoldAuto},
			Deliver:             DeliverAttributes,
			MaxHeldSpans:        100000,
			MaxHeldBytes:        256 << 20,
			MaxIndexEntries:     1000000,
			MaxBacklinksPerSpan: 32,
			Index:               defaultIndexConfig(),
		},
	}
}

// Unmarshal reads the processor's configuration. An unknown key is
// refused by name, with the keys there are.
func (c *Config) Unmarshal(conf *confmap.Conf) error {
	if err := unknownKeys(conf.ToStringMap(), Config{}); err != nil {
		return err
	}
	return conf.Unmarshal((*configKeys)(c))
}

// configKeys is Config without its methods, so that decoding it does not
// call Unmarshal again.
type configKeys Config

// Unmarshal reads the backlinks section; hold takes a string or a list.
// An unknown key is refused by name, with the keys there are.
func (b *BacklinksConfig) Unmarshal(conf *confmap.Conf) error {
	raw := conf.ToStringMap()
	if err := unknownKeys(raw, BacklinksConfig{}); err != nil {
		return err
	}
	hold, ok := raw["hold"]
	delete(raw, "hold")
	if err := confmap.NewFromStringMap(raw).Unmarshal((*backlinksKeys)(b)); err != nil {
		return err
	}
	if !ok {
		return nil
	}
	h, err := parseHold(hold)
	if err != nil {
		return err
	}
	b.Hold = h
	return nil
}

// backlinksKeys is BacklinksConfig without its methods, so that decoding it
// does not call Unmarshal again.
type backlinksKeys BacklinksConfig

// Marshal writes the backlinks section, hold as a string or a list.
func (b BacklinksConfig) Marshal(conf *confmap.Conf) error {
	if err := conf.Marshal(backlinksKeys(b)); err != nil {
		return err
	}
	var hold any = string(b.Hold.Mode)
	if b.Hold.Mode == "" {
		hold = b.Hold.Conditions
	}
	return conf.Merge(confmap.NewFromStringMap(map[string]any{"hold": hold}))
}

// parseHold reads the hold key. A string is taken as a mode, checked by
// Validate, so that every bad value is reported there with its key.
func parseHold(v any) (Hold, error) {
	switch v := v.(type) {
	case string:
		return Hold{Mode: HoldMode(v)}, nil
	case []any:
		conds := make([]string, 0, len(v))
		for i, c := range v {
			s, ok := c.(string)
			if !ok {
				return Hold{}, fmt.Errorf("hold[%d]: %v is not a string OTTL condition", i, c)
			}
			conds = append(conds, s)
		}
		return Hold{Conditions: conds}, nil
	case nil:
		return Hold{}, nil
	default:
		return Hold{}, fmt.Errorf("hold: %v is neither %q, %q, %q nor a list of OTTL conditions", v, HoldAll, HoldNone, HoldAuto)
	}
}

// Validate refuses every bad value, naming its key.
func (c *Config) Validate() error {
	var errs []error
	positive := func(key string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be greater than 0, got %d", key, v))
		}
	}
	positive("max_links_per_span", c.MaxLinksPerSpan)
	positive("max_attributes_per_link", c.MaxAttributesPerLink)
	if c.Truncation != TruncateSample && c.Truncation != TruncateFirst {
		errs = append(errs, fmt.Errorf("truncation: %q is not %q or %q", c.Truncation, TruncateSample, TruncateFirst))
	}
	positive("batch.min_links", c.Batch.MinLinks)
	for i, a := range c.Batch.SizeAttributes {
		if a == "" {
			errs = append(errs, fmt.Errorf("batch.size_attributes[%d]: %q: must not be empty", i, a))
		}
	}
	b := c.Backlinks
	if b.Enabled {
		errs = append(errs, b.validateDeliver()...)
	}
	if b.Enabled && b.Deliver != DeliverSpans {
		if b.Window < minWindow {
			errs = append(errs, fmt.Errorf("backlinks.window: %s is under %s; durations take a unit, e.g. 30s", b.Window, minWindow))
		}
		positive("backlinks.max_held_spans", b.MaxHeldSpans)
		positive("backlinks.max_held_bytes", b.MaxHeldBytes)
		positive("backlinks.max_index_entries", b.MaxIndexEntries)
		positive("backlinks.max_backlinks_per_span", b.MaxBacklinksPerSpan)
		if err := b.Hold.validate(); err != nil {
			errs = append(errs, fmt.Errorf("backlinks.%w", err))
		}
		if err := b.Partition.validate(); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, b.Index.validate()...)
	}
	if err := b.validateStorage(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateDeliver refuses a deliver that is neither word and, with spans,
// every key set to other than its default that spans then ignore: nothing
// is indexed or held, and each backlink span names one linker.
func (b BacklinksConfig) validateDeliver() []error {
	switch b.Deliver {
	case DeliverAttributes, "": // "": a Config built in Go without it
		return nil
	case DeliverSpans:
	default:
		return []error{fmt.Errorf("backlinks.deliver: %q is not %q or %q", b.Deliver, DeliverAttributes, DeliverSpans)}
	}
	def := createDefaultConfig().(*Config).Backlinks
	var errs []error
	unused := func(key string, set bool, v any) {
		if set {
			errs = append(errs, fmt.Errorf("backlinks.%s: %v means nothing with backlinks.deliver: spans (nothing is indexed or held); remove it", key, v))
		}
	}
	unused("window", b.Window != def.Window, b.Window)
	unused("hold", !reflect.DeepEqual(b.Hold, def.Hold), holdText(b.Hold))
	unused("max_held_spans", b.MaxHeldSpans != def.MaxHeldSpans, b.MaxHeldSpans)
	unused("max_held_bytes", b.MaxHeldBytes != def.MaxHeldBytes, b.MaxHeldBytes)
	unused("max_index_entries", b.MaxIndexEntries != def.MaxIndexEntries, b.MaxIndexEntries)
	unused("max_backlinks_per_span", b.MaxBacklinksPerSpan != def.MaxBacklinksPerSpan, b.MaxBacklinksPerSpan)
	unused("emit_links", b.EmitLinks, b.EmitLinks)
	unused("partition.metadata_key", b.Partition.MetadataKey != "", b.Partition.MetadataKey)
	unused("partition.resource_attribute", b.Partition.ResourceAttribute != "", b.Partition.ResourceAttribute)
	unused("index.backend", b.Index.Backend != def.Index.Backend, b.Index.Backend)
	unused("storage", b.Storage != "", b.Storage)
	return errs
}

// holdText writes h as it is configured: a word, or the conditions.
func holdText(h Hold) string {
	if h.Mode != "" {
		return string(h.Mode)
	}
	return fmt.Sprintf("%q", h.Conditions)
}

// validateStorage refuses a storage ID that is not one, and a storage
// where nothing is held to store.
func (b BacklinksConfig) validateStorage() error {
	if b.Storage == "" {
		return nil
	}
	var id component.ID
	if err := id.UnmarshalText([]byte(b.Storage)); err != nil {
		return fmt.Errorf("backlinks.storage: %q is not a storage extension ID (type[/name], e.g. file_storage): %w", b.Storage, err)
	}
	if !b.Enabled {
		return fmt.Errorf("backlinks.storage: %q is set but backlinks.enabled is false: nothing is held to store", b.Storage)
	}
	if b.Hold.Mode == HoldNone {
		return fmt.Errorf("backlinks.storage: %q is set but backlinks.hold is %q: nothing is held to store", b.Storage, HoldNone)
	}
	return nil
}

func (h Hold) validate() error {
	switch h.Mode {
	case HoldAll, HoldNone, HoldAuto:
		if len(h.Conditions) > 0 {
			return fmt.Errorf("hold: mode %q takes no conditions", h.Mode)
		}
		return nil
	case "":
		if len(h.Conditions) == 0 {
			return errors.New("hold: [] is an empty list; use all, none, auto or at least one OTTL condition")
		}
		_, err := hold.NewMatcher(h.Conditions, component.TelemetrySettings{})
		return err
	default:
		return fmt.Errorf("hold: %q is neither %q, %q, %q nor a list of OTTL conditions", h.Mode, HoldAll, HoldNone, HoldAuto)
	}
}

// unknownKeys refuses the keys of raw that are not mapstructure keys of the
// struct keysOf, naming them and the keys there are; the collector prefixes
// the section ('backlinks'). Decoding into keysOf would name its Go type
// instead. Keys match case-insensitively, as the collector's decoding does.
func unknownKeys(raw map[string]any, keysOf any) error {
	t := reflect.TypeOf(keysOf)
	var known []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("mapstructure"), ",")
		if name != "" && name != "-" {
			known = append(known, name)
		}
	}
	var bad []string
	for k := range raw {
		if !slices.ContainsFunc(known, func(n string) bool { return strings.EqualFold(n, k) }) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	word := "key"
	if len(bad) > 1 {
		word = "keys"
	}
	return fmt.Errorf("has unknown %s %s; the keys are %s", word, strings.Join(bad, ", "), strings.Join(known, ", "))
}
