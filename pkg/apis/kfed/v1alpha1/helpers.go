package v1alpha1

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultClusterTimeout is how long commands wait for one member when the
// Federation does not say.
const DefaultClusterTimeout = 10 * time.Second

// ManagerClusterRoleOrDefault returns the ClusterRole join binds managers to
// in this federation.
func (f *Federation) ManagerClusterRoleOrDefault() string {
	if f.Spec.Defaults.ManagerClusterRole != "" {
		return f.Spec.Defaults.ManagerClusterRole
	}
	return DefaultManagerClusterRole
}

// ClusterTimeoutOrDefault returns how long commands wait for one member.
func (f *Federation) ClusterTimeoutOrDefault() time.Duration {
	if t := f.Spec.Defaults.ClusterTimeout; t != nil && t.Duration > 0 {
		return t.Duration
	}
	return DefaultClusterTimeout
}

// Serial is the SOA serial of the federation's zone: the Federation's
// creation time, so that every coredns-fed server of the federation gives
// the same one, whenever it started or rebuilt, and it never goes back.
// It is 0 for a Federation not yet created.
func (f *Federation) Serial() uint32 {
	if f.CreationTimestamp.IsZero() || f.CreationTimestamp.Unix() <= 0 {
		return 0
	}
	return uint32(f.CreationTimestamp.Unix())
}

// Ready returns the member's Ready condition, or nil if it was never probed.
func (c *Cluster) Ready() *metav1.Condition {
	return meta.FindStatusCondition(c.Status.Conditions, ConditionReady)
}

// IsReady reports whether the member was Ready when last probed.
func (c *Cluster) IsReady() bool {
	return meta.IsStatusConditionTrue(c.Status.Conditions, ConditionReady)
}

// NewLocation returns the Location of the given coordinates, kept to six
// decimals (about 10 cm), which is more than any use of them needs.
func NewLocation(latitude, longitude float64) *Location {
	return &Location{
		Latitude:  strconv.FormatFloat(math.Round(latitude*1e6)/1e6, 'f', -1, 64),
		Longitude: strconv.FormatFloat(math.Round(longitude*1e6)/1e6, 'f', -1, 64),
	}
}

// Coordinates parses the location into degrees of latitude and longitude.
func (l *Location) Coordinates() (latitude, longitude float64, err error) {
	if latitude, err = strconv.ParseFloat(l.Latitude, 64); err != nil {
		return 0, 0, fmt.Errorf("latitude %q: %w", l.Latitude, err)
	}
	if longitude, err = strconv.ParseFloat(l.Longitude, 64); err != nil {
		return 0, 0, fmt.Errorf("longitude %q: %w", l.Longitude, err)
	}
	if latitude < -90 || latitude > 90 {
		return 0, 0, fmt.Errorf("latitude %s is outside -90..90", l.Latitude)
	}
	if longitude < -180 || longitude > 180 {
		return 0, 0, fmt.Errorf("longitude %s is outside -180..180", l.Longitude)
	}
	return latitude, longitude, nil
}
