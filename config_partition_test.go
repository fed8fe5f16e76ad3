package spanlinksprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

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
