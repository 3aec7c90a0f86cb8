package geo

import (
	"math"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		name     string
		provider Provider
		place    string
	}{
		{"us-east-1", AWS, "Virginia"},
		{"eu-west-1", AWS, "Dublin"},
		{"ap-northeast-1", AWS, "Tokyo"},
		{"us-east1", GCP, "South Carolina"},
		{"europe-west4", GCP, "Netherlands"},
		{"westeurope", Azure, "Amsterdam"},
		{"japaneast", Azure, "Tokyo"},
	} {
		r, ok := Lookup(tc.name)
		if !ok {
			t.Errorf("Lookup(%q): not found", tc.name)
			continue
		}
		if r.Provider != tc.provider || !strings.Contains(r.Place, tc.place) {
			t.Errorf("Lookup(%q) = %s in %q, want %s in %q", tc.name, r.Provider, r.Place, tc.provider, tc.place)
		}
	}
	for _, name := range []string{"", "us-east-1a", "US-EAST-1", "mars-north-1"} {
		if r, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) = %+v, want not found", name, r)
		}
	}
}

// TestTable checks every entry for the mistakes a hand-kept table invites:
// swapped or out-of-range coordinates and names that do not follow the
// provider's spelling.
func TestTable(t *testing.T) {
	counts := map[Provider]int{}
	for _, r := range Regions() {
		counts[r.Provider]++
		if r.Latitude < -90 || r.Latitude > 90 || r.Longitude < -180 || r.Longitude > 180 {
			t.Errorf("%s: coordinates %v,%v out of range", r.Name, r.Latitude, r.Longitude)
		}
		if r.Place == "" {
			t.Errorf("%s: no place", r.Name)
		}
		switch r.Provider {
		case AWS:
			if strings.Count(r.Name, "-") < 2 || !strings.ContainsAny(r.Name[len(r.Name)-1:], "0123456789") {
				t.Errorf("%s does not look like an AWS region", r.Name)
			}
		case Azure:
			if strings.Contains(r.Name, "-") {
				t.Errorf("%s does not look like an Azure region", r.Name)
			}
		case GCP:
			if strings.Count(r.Name, "-") != 1 {
				t.Errorf("%s does not look like a Google Cloud region", r.Name)
			}
		}
	}
	for _, p := range []Provider{AWS, GCP, Azure} {
		if counts[p] < 30 {
			t.Errorf("%s: only %d regions in the table", p, counts[p])
		}
	}
	// Regions the lab uses, and a sanity check of the hemispheres.
	if r, _ := Lookup("ap-southeast-2"); r.Latitude > 0 || r.Longitude < 0 {
		t.Errorf("Sydney is in the south-east: %+v", r)
	}
	if r, _ := Lookup("us-west-2"); r.Latitude < 0 || r.Longitude > 0 {
		t.Errorf("Oregon is in the north-west: %+v", r)
	}
}

func TestDistanceKm(t *testing.T) {
	dub, _ := Lookup("eu-west-1")
	iad, _ := Lookup("us-east-1")
	nrt, _ := Lookup("ap-northeast-1")
	for _, tc := range []struct {
		a, b Region
		want float64 // km, from published great-circle distances
	}{
		{dub, iad, 5450},
		{dub, nrt, 9600},
		{iad, nrt, 10900},
		{dub, dub, 0},
	} {
		got := DistanceKm(tc.a.Latitude, tc.a.Longitude, tc.b.Latitude, tc.b.Longitude)
		if math.Abs(got-tc.want) > tc.want*0.03+1 {
			t.Errorf("%s to %s: %.0f km, want about %.0f km", tc.a.Place, tc.b.Place, got, tc.want)
		}
	}
}
