package metadatatest

import "flag"

// The golden files' flag (go test ./... -run TestScenarios -update) is
// accepted here too, so that one command runs over every package; this
// package has no golden files, and the flag changes nothing in it.
var _ = flag.Bool("update", false, "rewrite golden files (none in this package)")
