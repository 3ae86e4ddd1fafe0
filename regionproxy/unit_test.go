package regionproxy

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSmoothSequence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights []int
		want    []int32
	}{
		{name: "equal", weights: []int{1, 1, 1}, want: []int32{0, 1, 2}},
		{name: "nginx example", weights: []int{5, 1, 1}, want: []int32{0, 0, 1, 0, 2, 0, 0}},
		{name: "reduced by gcd", weights: []int{200, 400}, want: []int32{1, 0, 1}},
		{name: "one", weights: []int{7}, want: []int32{0}},
		{name: "none", weights: nil, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, smoothSequence(tc.weights)); diff != "" {
				t.Errorf("smoothSequence(%v) (-want +got):\n%s", tc.weights, diff)
			}
		})
	}

	// Weights too large for the schedule keep their ratio approximately.
	w := []int{1000, 999, 1, 1000, 1000, 1000}
	seq := smoothSequence(w)
	if len(seq) > maxSequence {
		t.Fatalf("len = %d, want at most %d", len(seq), maxSequence)
	}
	count := make([]int, len(w))
	for _, i := range seq {
		count[i]++
	}
	if count[2] < 1 || count[0] < 500*count[2]/2 {
		t.Errorf("counts %v do not follow weights %v", count, w)
	}
}

func members(n int) []member {
	out := make([]member, n)
	for i := range out {
		out[i] = member{b: newBackend("192.0.2.1:"+string(rune('0'+i)), false), weight: 1}
	}
	return out
}

func TestRoundRobinSkips(t *testing.T) {
	ms := members(3)
	rr := newRoundRobin(ms)
	ms[1].b.active.Store(false)
	var got []*backend
	for range 4 {
		got = append(got, rr.pick(nil, nil))
	}
	want := []*backend{ms[0].b, ms[2].b, ms[2].b, ms[0].b}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pick #%d = %s, want %s", i, got[i].addr, want[i].addr)
		}
	}
	if b := rr.pick(nil, []*backend{ms[0].b, ms[2].b}); b != nil {
		t.Errorf("pick with every available backend tried = %s, want nil", b.addr)
	}
}

func TestLeastRequest(t *testing.T) {
	ms := members(2)
	lr := &leastRequest{newRandom(ms)}
	ms[0].b.inflight.Store(5)
	for range 20 {
		if b := lr.pick(nil, nil); b != ms[1].b {
			t.Fatalf("pick = %s, want the idle backend", b.addr)
		}
	}
	if b := lr.pick(nil, []*backend{ms[1].b}); b != ms[0].b {
		t.Errorf("pick excluding the idle one = %v, want the busy one", b)
	}

	// Load per unit of weight: 5 in flight on weight 10 beats 1 on weight 1.
	ms[0].weight = 10
	ms[1].b.inflight.Store(1)
	lr = &leastRequest{newRandom(ms)}
	for range 20 {
		if b := lr.pick(nil, nil); b != ms[0].b {
			t.Fatalf("pick = %s, want the heavier backend", b.addr)
		}
	}
}

func TestRandomRespectsTried(t *testing.T) {
	ms := members(3)
	r := newRandom(ms)
	for range 50 {
		if b := r.pick(nil, []*backend{ms[0].b, ms[1].b}); b != ms[2].b {
			t.Fatalf("pick = %v, want the only untried backend", b)
		}
	}
}

// Passive ejection: maxFails consecutive failures take a backend out for
// ejectFor; a success in between resets the count.
func TestPassiveEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend("192.0.2.1:80", false)
		for i := range maxFails - 1 {
			if b.failure() {
				t.Fatalf("failure #%d ejected", i+1)
			}
		}
		b.success()
		for i := range maxFails - 1 {
			if b.failure() {
				t.Fatalf("failure #%d after a success ejected", i+1)
			}
		}
		if !b.failure() {
			t.Fatalf("failure #%d did not eject", maxFails)
		}
		if b.available() {
			t.Fatal("available right after ejection")
		}
		time.Sleep(ejectFor - time.Millisecond)
		if b.available() {
			t.Fatal("available before the ejection ended")
		}
		time.Sleep(time.Millisecond)
		if !b.available() || b.ejectedUntil.Load() != 0 {
			t.Fatal("not available after the ejection ended")
		}

		spill := newBackend("192.0.2.2:80", true)
		for range maxFails * 2 {
			if spill.failure() {
				t.Fatal("a spill-over target was ejected")
			}
		}
	})
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"www.example.com":       "www.example.com",
		"WWW.Example.Com":       "www.example.com",
		"www.example.com:8080":  "www.example.com",
		"www.example.com.":      "www.example.com",
		"www.example.com.:8080": "www.example.com",
		"[2001:db8::1]:80":      "[2001:db8::1]",
		"[2001:db8::1]":         "[2001:db8::1]",
		"":                      "",
	} {
		if got := normalizeHost(in); got != want {
			t.Errorf("normalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCodeClass(t *testing.T) {
	for code, want := range map[int]string{0: "2xx", 101: "1xx", 200: "2xx", 304: "3xx", 404: "4xx", 499: "4xx", 503: "5xx", 999: "5xx"} {
		if got := codeClasses[codeClass(code)]; got != want {
			t.Errorf("codeClass(%d) = %s, want %s", code, got, want)
		}
	}
}

func TestAutoDrain(t *testing.T) {
	snap := buildSnapshot(t, map[string]string{
		"zones/example.com.":        `{"nameservers":[{"name":"ns1.example.net."}]}`,
		"regions/eu":                `{"location":{"lat":50,"lon":0},"proxies":["192.0.2.1"]}`,
		"regions/us":                `{"location":{"lat":40,"lon":-75},"proxies":["192.0.2.2"]}`,
		"regions/ap":                `{"location":{"lat":1,"lon":103},"proxies":["192.0.2.3"]}`,
		"services/a.example.com.":   `{"policy":"geo","regions":["eu","us"],"ttl":"20s"}`,
		"services/b.example.com.":   `{"policy":"geo","regions":["us"],"ttl":"60s","overrides":[{"countries":["IE"],"regions":["eu"]}]}`,
		"services/c.example.com.":   `{"policy":"geo","regions":["us"],"ttl":"1h"}`,
		"services/d.example.com.":   `{"policy":"failover","regions":["ap"],"ttl":"1h"}`,
		"services/e.example.com.":   `{"policy":"failover","regions":["ap","eu"],"ttl":"5s"}`,
		"services/f.example.com.":   `{"policy":"failover","regions":["us"],"ttl":"2m"}`,
		"services/www.example.com.": `{"policy":"failover","regions":["us"],"ttl":"30s"}`,
	})
	for region, want := range map[string]time.Duration{"eu": 60 * time.Second, "ap": MaxAutoDrain, "nowhere": 0} {
		if got := autoDrain(snap, region); got != want {
			t.Errorf("autoDrain(%s) = %v, want %v", region, got, want)
		}
	}
}
