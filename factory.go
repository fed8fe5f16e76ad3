// Package spanlinksprocessor repairs span links in flight, annotates batch
// spans with how much of their batch the links still cover, and writes
// backlinks onto the spans that were linked to.
package spanlinksprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/spanlinks/spanlinksprocessor/internal/metadata"
)

// NewFactory returns the factory of the spanlinks processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createTraces(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	return newProcessor(set, cfg.(*Config), next)
}
