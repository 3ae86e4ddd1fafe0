package store

import (
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{5, 1600 * time.Millisecond, 3200 * time.Millisecond},
		{6, 2500 * time.Millisecond, 5 * time.Second},
		{60, 2500 * time.Millisecond, 5 * time.Second},
	} {
		for range 100 {
			if d := retryDelay(tc.attempt); d < tc.min || d > tc.max {
				t.Fatalf("retryDelay(%d) = %s, want %s..%s", tc.attempt, d, tc.min, tc.max)
			}
		}
	}
}

func TestDial(t *testing.T) {
	if _, err := Dial(ClientConfig{}); err == nil {
		t.Errorf("Dial without endpoints: no error")
	}
}
