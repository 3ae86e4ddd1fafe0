package geo

import (
	"math"
	"testing"
)

func TestCountryTable(t *testing.T) {
	// 249 ISO 3166-1 alpha-2 codes as of 2024, plus XK.
	if got, want := len(countries), 250; got != want {
		t.Errorf("len(countries) = %d, want %d", got, want)
	}
	for i, c := range countries {
		if i > 0 && countries[i-1].code >= c.code {
			t.Errorf("countries[%d] = %s follows %s: table must be sorted and unique", i, c.code, countries[i-1].code)
		}
		if !ValidCountry(c.code) {
			t.Errorf("ValidCountry(%q) = false for a table entry", c.code)
		}
		if !ValidContinent(c.continent) {
			t.Errorf("%s: continent %q is not valid", c.code, c.continent)
		}
		lat, lon, ok := CountryCentroid(c.code)
		if !ok || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
			t.Errorf("CountryCentroid(%q) = %v, %v, %v; want a point on the globe", c.code, lat, lon, ok)
		}
	}
	for _, c := range continents {
		if c.lat < -90 || c.lat > 90 || c.lon < -180 || c.lon > 180 {
			t.Errorf("continent %s point %v, %v is off the globe", c.code, c.lat, c.lon)
		}
	}
}

func TestContinentOf(t *testing.T) {
	tests := []struct {
		cc, want string
	}{
		{"IE", "EU"},
		{"US", "NA"},
		{"SG", "AS"},
		{"BR", "SA"},
		{"AU", "OC"},
		{"ZA", "AF"},
		{"AQ", "AN"},
		// The ones people argue about: these follow GeoNames, as MaxMind does.
		{"RU", "EU"},
		{"TR", "AS"},
		{"CY", "EU"},
		{"GE", "AS"},
		{"EG", "AF"},
		{"PA", "NA"},
		{"GL", "NA"},
		{"XK", "EU"},
		{"NA", "AF"}, // Namibia, not North America
		{"ie", ""},   // codes are upper case
		{"", ""},
		{"ZZ", ""},
		{"IRL", ""},
		{"I", ""},
		{"@A", ""},
	}
	for _, tc := range tests {
		if got := ContinentOf(tc.cc); got != tc.want {
			t.Errorf("ContinentOf(%q) = %q, want %q", tc.cc, got, tc.want)
		}
	}
}

func TestValidCountry(t *testing.T) {
	tests := []struct {
		cc   string
		want bool
	}{
		{"IE", true},
		{"GB", true},
		{"XK", true},
		{"UK", false}, // the ISO code is GB
		{"EU", false}, // a continent, and a GeoIP Legacy pseudo-country
		{"ie", false},
		{"", false},
		{"ZZ", false},
		{"IRL", false},
		{"\xffA", false},
	}
	for _, tc := range tests {
		if got := ValidCountry(tc.cc); got != tc.want {
			t.Errorf("ValidCountry(%q) = %v, want %v", tc.cc, got, tc.want)
		}
	}
}

func TestValidContinent(t *testing.T) {
	for _, code := range []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"} {
		if !ValidContinent(code) {
			t.Errorf("ValidContinent(%q) = false, want true", code)
		}
	}
	for _, code := range []string{"", "eu", "ME", "AM", "EUR", "IE"} {
		if ValidContinent(code) {
			t.Errorf("ValidContinent(%q) = true, want false", code)
		}
	}
}

func TestCountryCentroidInsideCountry(t *testing.T) {
	// Spot checks that the point is within a few hundred km of a city in
	// the country, which catches swapped lat/lon and sign errors.
	tests := []struct {
		cc       string
		city     Location
		maxKm    float64
		describe string
	}{
		{"IE", Location{Lat: 53.35, Lon: -6.26, HasCoords: true}, 200, "Dublin"},
		{"SG", Location{Lat: 1.29, Lon: 103.85, HasCoords: true}, 30, "Singapore"},
		{"BR", Location{Lat: -23.55, Lon: -46.63, HasCoords: true}, 800, "Sao Paulo"},
		{"RU", Location{Lat: 55.76, Lon: 37.62, HasCoords: true}, 800, "Moscow"},
		{"US", Location{Lat: 39.04, Lon: -77.49, HasCoords: true}, 1500, "Ashburn"},
		{"NZ", Location{Lat: -41.29, Lon: 174.78, HasCoords: true}, 200, "Wellington"},
		{"JP", Location{Lat: 35.68, Lon: 139.69, HasCoords: true}, 200, "Tokyo"},
		{"FJ", Location{Lat: -18.14, Lon: 178.44, HasCoords: true}, 300, "Suva (near the antimeridian)"},
	}
	for _, tc := range tests {
		lat, lon, ok := CountryCentroid(tc.cc)
		if !ok {
			t.Fatalf("CountryCentroid(%q) not found", tc.cc)
		}
		if d := DistanceKm(Location{Lat: lat, Lon: lon, HasCoords: true}, tc.city); d > tc.maxKm || math.IsNaN(d) {
			t.Errorf("CountryCentroid(%q) is %.0f km from %s, want at most %.0f", tc.cc, d, tc.describe, tc.maxKm)
		}
	}
	if _, _, ok := CountryCentroid("ZZ"); ok {
		t.Errorf("CountryCentroid(%q) ok = true, want false", "ZZ")
	}
}
