package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// Health figures for docs/benchmarks.md. Each iteration is a real
// failover: every backend of eu-west dies, and the clock runs until a
// European client's DNS answer names us-east; then the backends return
// and the answer goes back. Run with
//
//	go test -run '^$' -bench Failover -benchtime 5x ./e2e
//
// The reported "detect-s" metrics are the median, min and max of the
// detection times (ns/op is the whole iteration, recovery included).
func BenchmarkFailoverDetection(b *testing.B) {
	settings := []struct{ name, check string }{
		// The probes package's defaults: interval 2s, timeout 1s, rise 2, fall 3.
		{"default", `{"kind":"http","path":"/healthz"}`},
		// The fastest the validator accepts: 100ms interval, down on the
		// first failure.
		{"fastest", `{"kind":"http","path":"/healthz","interval":"100ms","timeout":"100ms","rise":1,"fall":1}`},
	}
	for _, s := range settings {
		b.Run(s.name, func(b *testing.B) {
			w := newWorld(b, worldOptions{check: s.check})
			w.steady(b)
			var took []time.Duration
			for b.Loop() {
				for _, be := range w.backends["eu-west"] {
					be.kill()
				}
				took = append(took, w.waitAnswer(b, time.Minute, europe, "127.0.0.12", "failover"))
				for _, be := range w.backends["eu-west"] {
					be.start(b)
				}
				w.waitAnswer(b, time.Minute, europe, "127.0.0.11", "recovery")
			}
			slices.Sort(took)
			b.ReportMetric(took[len(took)/2].Seconds(), "detect-s-median")
			b.ReportMetric(took[0].Seconds(), "detect-s-min")
			b.ReportMetric(took[len(took)-1].Seconds(), "detect-s-max")
		})
	}
}

// BenchmarkSteadyStateWrites measures the etcd writes per second of one
// proxy and one prober once nothing changes: the write load that grows
// with the fleet. Run with -benchtime 1x (each iteration watches for
// MERIDIAN_BENCH_WINDOW, default 65s: longer than both refresh periods).
func BenchmarkSteadyStateWrites(b *testing.B) {
	window := 65 * time.Second
	if d, err := time.ParseDuration(getenv("MERIDIAN_BENCH_WINDOW", "")); err == nil {
		window = d
	}
	w := newWorld(b, worldOptions{check: `{"kind":"http","path":"/healthz"}`})
	_, prb := w.startProberPub("p1", netip.MustParseAddr("127.0.0.101"), 10*time.Second)
	w.steady(b)
	eventually(b, 30*time.Second, "prober verdicts in", func() (bool, string) {
		return prb.Writes() >= 3, fmt.Sprint(prb.Writes())
	})
	px := w.proxies["eu-west"].pub
	for b.Loop() {
		p0, x0 := prb.Writes(), px.Writes()
		start := time.Now()
		time.Sleep(window) // the measurement window itself: nothing to wait for
		secs := time.Since(start).Seconds()
		b.ReportMetric(float64(prb.Writes()-p0)/secs, "prober-writes/s")
		b.ReportMetric(float64(px.Writes()-x0)/secs, "proxy-writes/s")
	}
}
