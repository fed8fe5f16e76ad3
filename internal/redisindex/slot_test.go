package redisindex

import "testing"

// TestKeySlot checks slots against values from Redis's CLUSTER KEYSLOT and
// the cluster specification.
func TestKeySlot(t *testing.T) {
	for _, tt := range []struct {
		key  string
		want int
	}{
		{"123456789", 0x31C3 & 16383}, // the specification's check value
		{"foo", 12182},
		{"bar", 5061},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"user1000", 3443},
		{"foo{{bar}}zap", keySlot("{bar")},
		{"foo{bar}{zap}", keySlot("bar")},
	} {
		if got := keySlot(tt.key); got != tt.want {
			t.Errorf("keySlot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	if keySlot("foo{}{bar}") != int(crc16("foo{}{bar}")&16383) {
		t.Error("an empty hash tag must hash the whole key")
	}
}
