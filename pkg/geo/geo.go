// Package geo knows where the well-known cloud regions are, so that a member
// joined without coordinates still has a place on the map, and measures
// distances between places.
package geo

import (
	"math"
	"sort"
)

// Provider is a cloud whose regions the table knows.
type Provider string

// The providers in the table.
const (
	AWS   Provider = "aws"
	GCP   Provider = "gcp"
	Azure Provider = "azure"
)

// Region is a cloud region and the place its data centres are in.
type Region struct {
	// Name is the region as the provider and the node label
	// topology.kubernetes.io/region spell it, such as eu-west-1.
	Name     string
	Provider Provider
	// Place is the metropolitan area the region is named after or sits in.
	Place string
	// Latitude and Longitude are the place's, in decimal degrees: good to
	// tens of kilometres, which is all that choosing a nearby region needs.
	Latitude, Longitude float64
}

// Lookup returns the region named name. Names are unique across the three
// providers (AWS writes us-east-1 where GCP writes us-east1), so the name
// alone tells which provider it is.
func Lookup(name string) (Region, bool) {
	r, ok := byName[name]
	return r, ok
}

// Regions returns every region the table knows, sorted by provider and name.
func Regions() []Region {
	out := make([]Region, 0, len(byName))
	for _, r := range byName {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// earthRadiusKm is the mean radius of the Earth.
const earthRadiusKm = 6371.0088

// DistanceKm returns the great-circle distance between two points given in
// decimal degrees, by the haversine formula.
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	rad := math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

var byName = func() map[string]Region {
	m := map[string]Region{}
	for _, r := range table {
		if _, dup := m[r.Name]; dup {
			panic("geo: region " + r.Name + " is listed twice")
		}
		m[r.Name] = r
	}
	return m
}()
