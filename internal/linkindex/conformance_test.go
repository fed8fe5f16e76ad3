package linkindex_test

import (
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex/linkindextest"
)

func TestMemoryConformance(t *testing.T) {
	linkindextest.Run(t, func(t *testing.T, window time.Duration) linkindex.Index {
		return linkindex.NewMemory(window, 1_000_000)
	})
}
