package cluster

import "testing"

func TestHasValue(t *testing.T) {
	tests := []struct {
		name          string
		live, desired any
		want          bool
	}{
		{"same scalar", "a", "a", true},
		{"other scalar", "a", "b", false},
		{"int and float", int64(3), float64(3), true},
		{"null desired", "anything", nil, true},
		{"extra live key", map[string]any{"a": "1", "b": "2"}, map[string]any{"a": "1"}, true},
		{"missing key", map[string]any{"b": "2"}, map[string]any{"a": "1"}, false},
		{"empty map, absent live", nil, map[string]any{}, true},
		{"extra live element", []any{"x", "a", "y", "b"}, []any{"a", "b"}, true},
		{"missing element", []any{"a"}, []any{"a", "b"}, false},
		{"elements reordered", []any{"b", "a"}, []any{"a", "b"}, false},
		{"element with more fields", []any{map[string]any{"name": "c", "image": "i", "x": "y"}}, []any{map[string]any{"name": "c", "image": "i"}}, true},
		{"element changed", []any{map[string]any{"name": "c", "image": "j"}}, []any{map[string]any{"name": "c", "image": "i"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasValue(tt.live, tt.desired); got != tt.want {
				t.Errorf("hasValue(%v, %v) = %v, want %v", tt.live, tt.desired, got, tt.want)
			}
		})
	}
}
