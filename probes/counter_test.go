package probes

import (
	"testing"
)

// TestCounter runs sequences of results through the hysteresis state machine. Results are
// written '+' (success) and '-' (failure); the expected output has one character per result:
// 'U' when the state changes to up, 'D' when it changes to down, '.' otherwise.
func TestCounter(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		initial    string
		results    string
		want       string
	}{
		{"initial down, first success decides", 2, 3, "down", "+", "U"},
		{"initial down, first failure confirms", 2, 3, "down", "-", "."},
		{"initial up, first failure decides", 2, 3, "up", "-", "D"},
		{"initial up, first success confirms", 2, 3, "up", "+", "."},
		{"down needs rise successes", 2, 3, "down", "-++", "..U"},
		{"a failure restarts the rise count", 2, 3, "down", "-+-++", "....U"},
		{"up needs fall failures", 2, 3, "down", "+---", "U..D"},
		{"a success restarts the fall count", 2, 3, "down", "+--+---", "U.....D"},
		{"down then up again", 2, 3, "down", "+---++", "U..D.U"},
		{"staying up is quiet", 2, 3, "down", "+++++", "U...."},
		{"staying down is quiet", 2, 3, "down", "-----", "....."},
		{"rise 1 fall 1 follows every result", 1, 1, "down", "+-+-", "UDUD"},
		{"large thresholds", 3, 5, "up", "+-----+++", ".....D..U"},
		{"alternating never moves", 2, 2, "up", "+-+-+-+-", "........"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCounter(Check{Rise: tc.rise, Fall: tc.fall, InitialState: tc.initial})
			got := make([]byte, 0, len(tc.results))
			for _, r := range []byte(tc.results) {
				switch changed := c.observe(r == '+'); {
				case !changed:
					got = append(got, '.')
				case c.up:
					got = append(got, 'U')
				default:
					got = append(got, 'D')
				}
			}
			if string(got) != tc.want {
				t.Errorf("observe(%s) = %s, want %s", tc.results, got, tc.want)
			}
		})
	}
}
