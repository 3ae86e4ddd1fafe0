package geo

import (
	"math"
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
