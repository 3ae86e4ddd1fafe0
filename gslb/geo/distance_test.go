package geo

import (
	"math"
	"math/rand/v2"
	"testing"
)

func pt(lat, lon float64) Location { return Location{Lat: lat, Lon: lon, HasCoords: true} }

func TestDistanceKm(t *testing.T) {
	var (
		dublin    = pt(53.3498, -6.2603)
		ashburn   = pt(39.0438, -77.4874) // us-east-1, northern Virginia
		singapore = pt(1.3521, 103.8198)
	)
	tests := []struct {
		name string
		a, b Location
		want float64 // km
		tol  float64 // relative
	}{
		{"Dublin-Virginia", dublin, ashburn, 5470, 0.01},
		{"Virginia-Dublin is symmetric", ashburn, dublin, 5470, 0.01},
		{"Dublin-Singapore", dublin, singapore, 11200, 0.01},
		{"identical points", dublin, dublin, 0, 0},
		{"poles", pt(90, 0), pt(-90, 0), math.Pi * earthRadiusKm, 1e-12},
		{"antipodes on the equator", pt(0, 0), pt(0, 180), math.Pi * earthRadiusKm, 1e-12},
		{"antipodes off the equator", pt(53.3498, -6.2603), pt(-53.3498, 173.7397), math.Pi * earthRadiusKm, 1e-9},
		{"across the antimeridian", pt(0, 179.5), pt(0, -179.5), 111.19, 0.001},
		{"one degree of latitude", pt(10, 20), pt(11, 20), 111.19, 0.001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DistanceKm(tc.a, tc.b)
			if math.IsNaN(got) || math.Abs(got-tc.want) > tc.tol*tc.want+1e-9 {
				t.Errorf("DistanceKm(%v, %v) = %.3f km, want %.3f ± %.2f%%", tc.a, tc.b, got, tc.want, tc.tol*100)
			}
		})
	}
}

func TestDistanceKmWithoutCoords(t *testing.T) {
	dublin := pt(53.35, -6.26)
	tests := []struct {
		name string
		a, b Location
	}{
		{"first has no coords", Location{Country: "IE"}, dublin},
		{"second has no coords", dublin, Location{}},
		{"NaN latitude", pt(math.NaN(), 0), dublin},
		{"latitude out of range", pt(91, 0), dublin},
		{"longitude out of range", dublin, pt(0, 181)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DistanceKm(tc.a, tc.b); !math.IsInf(got, 1) {
				t.Errorf("DistanceKm(%v, %v) = %v, want +Inf", tc.a, tc.b, got)
			}
		})
	}
}

func FuzzDistanceKm(f *testing.F) {
	f.Add(53.3498, -6.2603, 39.0438, -77.4874)
	f.Add(0.0, 0.0, 0.0, 180.0)
	f.Add(90.0, 0.0, -90.0, 0.0)
	f.Add(1e-300, -1e-300, -1e-300, 1e-300)
	f.Fuzz(func(t *testing.T, lat1, lon1, lat2, lon2 float64) {
		a, b := pt(lat1, lon1), pt(lat2, lon2)
		d := DistanceKm(a, b)
		if !validCoords(lat1, lon1) || !validCoords(lat2, lon2) {
			if !math.IsInf(d, 1) {
				t.Fatalf("DistanceKm(%v, %v) = %v, want +Inf for invalid coordinates", a, b, d)
			}
			return
		}
		if math.IsNaN(d) || d < 0 || d > math.Pi*earthRadiusKm*(1+1e-12) {
			t.Fatalf("DistanceKm(%v, %v) = %v, want within [0, half the circumference]", a, b, d)
		}
		if r := DistanceKm(b, a); math.Abs(r-d) > 1e-6 {
			t.Fatalf("DistanceKm not symmetric: %v vs %v", d, r)
		}
	})
}

func TestVectorWithoutCoords(t *testing.T) {
	dublin := VectorOf(pt(53.35, -6.26))
	tests := []struct {
		name string
		l    Location
	}{
		{"no coords", Location{Country: "IE"}},
		{"NaN latitude", pt(math.NaN(), 0)},
		{"NaN longitude", pt(0, math.NaN())},
		{"latitude out of range", pt(-90.5, 0)},
		{"longitude out of range", pt(0, 180.5)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := VectorOf(tc.l)
			if got := v.Cos(dublin); !math.IsInf(got, -1) {
				t.Errorf("VectorOf(%v).Cos(Dublin) = %v, want -Inf", tc.l, got)
			}
			if got := dublin.Cos(v); !math.IsInf(got, -1) {
				t.Errorf("Dublin.Cos(VectorOf(%v)) = %v, want -Inf", tc.l, got)
			}
		})
	}
	if got := dublin.Cos(dublin); math.Abs(got-1) > 1e-15 {
		t.Errorf("Dublin.Cos(Dublin) = %v, want 1", got)
	}
}

// randPt is a random point on the globe, uniform in latitude and longitude
// (not in area: the poles and the antimeridian deserve their share).
func randPt(r *rand.Rand) Location {
	return pt(r.Float64()*180-90, r.Float64()*360-180)
}

// wrapLon brings a longitude back into [-180, 180].
func wrapLon(lon float64) float64 {
	switch {
	case lon > 180:
		return lon - 360
	case lon < -180:
		return lon + 360
	}
	return lon
}

// rankCase is a client and two regions; the generators below make random
// ones and ones built to be (nearly) equally far from the client, at every
// scale from metres to the antipode.
func rankCases(r *rand.Rand, n int) [][3]Location {
	var out [][3]Location
	for range n {
		c, a := randPt(r), randPt(r)
		var b Location
		switch r.IntN(6) {
		case 0, 1:
			b = randPt(r)
		case 2:
			// The mirror image of a across the client's meridian: the same
			// distance, computed by different roundings.
			b = pt(a.Lat, wrapLon(2*c.Lon-a.Lon))
		case 3:
			// The mirror nudged by a random amount from 1e-12 to 1 degree.
			d := math.Pow(10, -12+12*r.Float64())
			b = pt(a.Lat, wrapLon(2*c.Lon-a.Lon+d))
		case 4:
			// Both within metres to kilometres of the client.
			d := math.Pow(10, -6+5*r.Float64())
			a = pt(max(min(c.Lat+d*(r.Float64()-0.5), 90), -90), wrapLon(c.Lon+d*(r.Float64()-0.5)))
			b = pt(max(min(c.Lat+d*(r.Float64()-0.5), 90), -90), wrapLon(c.Lon+d*(r.Float64()-0.5)))
		case 5:
			// Both near the client's antipode.
			d := math.Pow(10, -6+5*r.Float64())
			alat, alon := -c.Lat, wrapLon(c.Lon+180)
			a = pt(max(min(alat+d*(r.Float64()-0.5), 90), -90), wrapLon(alon+d*(r.Float64()-0.5)))
			b = pt(max(min(alat+d*(r.Float64()-0.5), 90), -90), wrapLon(alon+d*(r.Float64()-0.5)))
		}
		out = append(out, [3]Location{c, a, b})
	}
	return out
}

// TestVectorRanksAsDistanceKm: ranking by Vector.Cos is ranking by
// DistanceKm.
//
//   - Cosines further apart than CosTolerance always rank as DistanceKm
//     does, at every distance: geo steering relies on this to compare only
//     the rest with DistanceKm.
//   - Distances more than 1e-9 km apart rank the same, for regions more
//     than 100 km from the client and from its antipode. Nearer either end
//     the cosine is too flat for that: one unit in its last place is about
//     4.5e-9 km²/D at distance D (and 95 m right at the client), so it cannot
//     tell apart regions a few metres apart there; those fall under
//     CosTolerance and geo steering measures them with DistanceKm.
func TestVectorRanksAsDistanceKm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const far = 100.0 // km from the client and its antipode
	ties, closeCos, flat := 0, 0, 0
	for _, tc := range rankCases(r, 200_000) {
		c, a, b := tc[0], tc[1], tc[2]
		cv := VectorOf(c)
		ca, cb := cv.Cos(VectorOf(a)), cv.Cos(VectorOf(b))
		ka, kb := DistanceKm(c, a), DistanceKm(c, b)
		for _, got := range []float64{ca, cb} {
			if got < -1-1e-15 || got > 1+1e-15 {
				t.Errorf("client %v, regions %v and %v: cosine %v out of [-1, 1]", c, a, b, got)
			}
		}
		if math.Abs(ca-cb) <= CosTolerance {
			closeCos++
		} else if (ca > cb) != (ka < kb) || ka == kb {
			t.Errorf("client %v, regions %v and %v: cosines %.17g and %.17g differ by more than CosTolerance, distances %.12f and %.12f km do not rank the same",
				c, a, b, ca, cb, ka, kb)
		}
		const half = math.Pi * earthRadiusKm
		if min(ka, kb) < far || max(ka, kb) > half-far {
			flat++
			continue
		}
		if math.Abs(ka-kb) <= 1e-9 {
			ties++
		} else if (ca > cb) != (ka < kb) {
			t.Errorf("client %v, regions %v and %v: cosines %.17g and %.17g, distances %.12f and %.12f km rank differently",
				c, a, b, ca, cb, ka, kb)
		}
	}
	// The generators must keep producing the cases that matter.
	if ties < 10_000 || closeCos < 10_000 || flat < 10_000 {
		t.Errorf("%d ties within 1e-9 km, %d cosines within CosTolerance, %d pairs near the client or its antipode in the sample; the generators drifted", ties, closeCos, flat)
	}
}

// TestVectorAngle: acos of the cosine is the haversine's angle, up to
// the cosine's conditioning near 0 and 180 degrees.
func TestVectorAngle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 10_000 {
		a, b := randPt(r), randPt(r)
		cos := VectorOf(a).Cos(VectorOf(b))
		km := earthRadiusKm * math.Acos(min(max(cos, -1), 1))
		want := DistanceKm(a, b)
		// A cosine off by 4e-16 moves acos by up to sqrt(8e-16) rad
		// (0.2 km) at the ends, by 4e-16/sin elsewhere.
		tol := earthRadiusKm * min(math.Sqrt(8e-16), 4e-16/math.Sin(want/earthRadiusKm))
		if math.Abs(km-want) > tol+1e-9 {
			t.Errorf("acos(VectorOf(%v).Cos(VectorOf(%v))) = %.9f km, DistanceKm = %.9f km", a, b, km, want)
		}
	}
}

func BenchmarkRank(b *testing.B) {
	client := pt(48.85, 2.35)
	regions := []Location{pt(53.35, -6.26), pt(38.9, -77.0), pt(1.29, 103.85)}
	b.Run("DistanceKm", func(b *testing.B) {
		for b.Loop() {
			for _, r := range regions {
				sink += DistanceKm(client, r)
			}
		}
	})
	vs := make([]Vector, len(regions))
	for i, r := range regions {
		vs[i] = VectorOf(r)
	}
	b.Run("Cos", func(b *testing.B) {
		for b.Loop() {
			cv := VectorOf(client)
			for _, v := range vs {
				sink += cv.Cos(v)
			}
		}
	})
}

var sink float64
