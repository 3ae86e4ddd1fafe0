package probes

import (
	"maps"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

// gather returns the registry's families by name.

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func gatherAndLint(t *testing.T, reg *prometheus.Registry) []promlint.Problem {
	t.Helper()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	return problems
}

// metricValue returns the value of the counter or gauge name{labels}, or of the sample count
// of the histogram name{labels}, and whether that series exists.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	for _, m := range gather(t, reg)[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if !maps.Equal(got, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func seriesCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	return len(gather(t, reg)[name].GetMetric())
}

func TestMetricsLint(t *testing.T) {
	for _, subsystem := range []string{"probe", "proxy_backend"} {
		t.Run(subsystem, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg, subsystem)
			// Give every metric a series, so that all of them are linted.
			m.observeResult(Result{Up: true, RTT: 3 * time.Millisecond})
			m.observeResult(Result{Up: false, RTT: time.Second})
			m.setState("192.0.2.1:80", true)
			m.transition(false)
			if problems := gatherAndLint(t, reg); len(problems) != 0 {
				t.Errorf("GatherAndLint: %+v", problems)
			}
			got := map[string]int{}
			for name, mf := range gather(t, reg) {
				got[name] = len(mf.GetMetric())
			}
			p := "meridian_" + subsystem + "_"
			want := map[string]int{
				p + "checks_total":           2, // up, down
				p + "check_duration_seconds": 2, // up, down
				p + "target_up":              1,
				p + "transitions_total":      2, // created at zero
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("series per metric (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetricsNil(t *testing.T) {
	var m *Metrics // a Monitor without metrics calls these on nil
	m.observeResult(Result{})
	m.setState("x", true)
	m.transition(true)
	m.forget("x")
}
