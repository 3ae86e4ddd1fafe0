package geo

import "math"

// earthRadiusKm is the IUGG mean Earth radius (R1 = (2a+b)/3). A sphere is
// within 0.5% of the WGS-84 ellipsoid everywhere, far finer than the error in
// where a GeoIP database puts a client.
const earthRadiusKm = 6371.0088

// DistanceKm returns the great-circle distance between a and b in kilometres
// (haversine formula on a sphere of radius 6371.0088 km).
//
// If either location has no coordinates, or coordinates out of range (NaN
// included), the result is +Inf, which sorts after every real distance, so
// "nearest region" never picks a region because of a missing position and
// never compares against a NaN.
func DistanceKm(a, b Location) float64 {
	if !a.HasCoords || !b.HasCoords || !validCoords(a.Lat, a.Lon) || !validCoords(b.Lat, b.Lon) {
		return math.Inf(1)
	}
	const rad = math.Pi / 180
	lat1, lat2 := a.Lat*rad, b.Lat*rad
	dLat := lat2 - lat1
	dLon := (b.Lon - a.Lon) * rad
	sLat, sLon := math.Sin(dLat/2), math.Sin(dLon/2)
	h := sLat*sLat + math.Cos(lat1)*math.Cos(lat2)*sLon*sLon
	// Rounding can push h a hair outside [0, 1] for (near-)antipodal points,
	// and Sqrt(1-h) would then be NaN.
	h = min(max(h, 0), 1)
	return 2 * earthRadiusKm * math.Atan2(math.Sqrt(h), math.Sqrt(1-h))
}

// validCoords reports whether lat/lon are degrees on the globe. Written so
// that NaN fails every comparison and so is rejected.
func validCoords(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}
