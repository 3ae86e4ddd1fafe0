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

// Vector is a location as a point on the unit sphere, for ranking by
// distance without trigonometry per comparison: the great-circle distance
// between two points is R·acos of the dot product of their vectors, and acos
// is decreasing, so a larger [Vector.Cos] is a shorter [DistanceKm]. A
// region's Vector is computed once per snapshot and a client's once per
// decision, so ranking n regions costs n dot products instead of n
// haversines (each a sin, two cos, an atan2 and two square roots).
//
// The zero Vector has no coordinates.
type Vector struct {
	x, y, z float64
	ok      bool
}

// VectorOf returns l as a unit vector. Without coordinates, or with
// coordinates out of range (NaN included), it is a Vector that is farther
// than every real one, as DistanceKm is +Inf there.
func VectorOf(l Location) Vector {
	if !l.HasCoords || !validCoords(l.Lat, l.Lon) {
		return Vector{}
	}
	const rad = math.Pi / 180
	sinLat, cosLat := math.Sincos(l.Lat * rad)
	sinLon, cosLon := math.Sincos(l.Lon * rad)
	return Vector{x: cosLat * cosLon, y: cosLat * sinLon, z: sinLat, ok: true}
}

// Cos returns the cosine of the central angle between v and w, in [-1, 1]
// up to rounding: 1 for the same point, -1 for antipodes. It is -Inf when
// either has no coordinates, so such a point sorts after every real one.
func (v Vector) Cos(w Vector) float64 {
	if !v.ok || !w.ok {
		return math.Inf(-1)
	}
	return v.x*w.x + v.y*w.y + v.z*w.z
}

// CosTolerance bounds how far apart two values of [Vector.Cos] can be and
// still rank the other way round by [DistanceKm]. Both are rounded: the
// dot product of vectors from Sincos and the haversine each carry an error
// of a few units in the last place, about 1e-15 when expressed as a cosine
// (the haversine's error in the angle grows as 1/sin of the angle, and a
// change in the cosine is sin times the change in the angle, so the two
// cancel), so 1e-12 leaves a margin of several hundred. On the sphere 1e-12
// is 6 µm at 90 degrees and at most 9 m right at a point or its antipode,
// where the cosine is flattest: cosines this close are ties in every
// practical sense, and a caller that must break them exactly as DistanceKm
// would compares those with DistanceKm.
const CosTolerance = 1e-12
