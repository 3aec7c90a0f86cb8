package placement

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"
)

// Share is one cluster's part in a replica split.
type Share struct {
	// Cluster names the member.
	Cluster string
	// Weight is the cluster's relative share; 0 gives it only its Min.
	Weight int32
	// Min is the fewest replicas the cluster gets.
	Min int32
	// Max is the most replicas the cluster gets; negative means no limit.
	Max int32
}

// Replicas reads a replica count as it was decoded from the user's
// manifest, and refuses what a member would not take, quoting the number
// as written: a count beyond int32 would otherwise wrap around.
func Replicas(v any) (int32, error) {
	switch n := v.(type) {
	case int64:
		return replicaCount(n, fmt.Sprint(n))
	case int:
		return replicaCount(int64(n), fmt.Sprint(n))
	case int32:
		return replicaCount(int64(n), fmt.Sprint(n))
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) || math.IsNaN(n) {
			return 0, fmt.Errorf("%v is not a whole number", n)
		}
		if n < 0 || n > math.MaxInt32 {
			// Within range, the float is exact; outside, converting it
			// to an integer first could wrap too.
			return replicaCount(int64(math.Copysign(math.MaxInt32+1, n)), fmt.Sprint(n))
		}
		return int32(n), nil
	case nil:
		return 0, fmt.Errorf("null is not a count; give a number, or leave the field out")
	}
	return 0, fmt.Errorf("%v is a %T, not a number", v, v)
}

func replicaCount(n int64, written string) (int32, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("%s must not be negative", written)
	case n > math.MaxInt32:
		return 0, fmt.Errorf("%s is out of range: a count goes from 0 to %d", written, math.MaxInt32)
	}
	return int32(n), nil
}

// Split divides total replicas of the object named key over shares.
//
// Each cluster gets its weighted part of total, raised to its Min and
// lowered to its Max, with the parts of the unconstrained clusters scaled so
// that everything adds up to total. Replicas left over from rounding go
// first to the clusters whose exact part was cut the most, and among equal
// cuts by a hash of key and cluster name: over many objects the remainder
// lands on every cluster alike, yet the same object always lands the same
// way.
func Split(key string, total int32, shares []Share) (map[string]int32, error) {
	if total < 0 {
		return nil, fmt.Errorf("replicas must not be negative, got %d", total)
	}
	if len(shares) == 0 {
		if total == 0 {
			return map[string]int32{}, nil
		}
		return nil, fmt.Errorf("no cluster to place %d replicas in", total)
	}
	var sumMin, sumMax float64
	unbounded := false
	for _, s := range shares {
		if s.Weight < 0 || s.Min < 0 {
			return nil, fmt.Errorf("cluster %s: weight and minimum must not be negative", s.Cluster)
		}
		if s.Max >= 0 && s.Max < s.Min {
			return nil, fmt.Errorf("cluster %s: maximum %d is below minimum %d", s.Cluster, s.Max, s.Min)
		}
		sumMin += float64(s.Min)
		switch {
		case s.Weight == 0:
			sumMax += float64(s.Min)
		case s.Max < 0:
			unbounded = true
		default:
			sumMax += float64(s.Max)
		}
	}
	if float64(total) < sumMin {
		return nil, fmt.Errorf("the per-cluster minimums add up to %d, more than the %d replicas to place", int64(sumMin), total)
	}
	if !unbounded && float64(total) > sumMax {
		return nil, fmt.Errorf("only %d of %d replicas fit under the per-cluster maximums of clusters with a weight", int64(sumMax), total)
	}

	// Find the scale at which the clamped weighted parts add up to total.
	// Their sum grows with the scale, so bisection finds it.
	part := func(s Share, scale float64) float64 {
		v := scale * float64(s.Weight)
		v = math.Max(v, float64(s.Min))
		if s.Max >= 0 {
			v = math.Min(v, float64(s.Max))
		}
		return v
	}
	sum := func(scale float64) float64 {
		t := 0.0
		for _, s := range shares {
			t += part(s, scale)
		}
		return t
	}
	lo, hi := 0.0, float64(total)+1
	for i := 0; i < 200 && sum(hi) < float64(total); i++ {
		hi *= 2
	}
	for i := 0; i < 200; i++ {
		mid := (lo + hi) / 2
		if sum(mid) < float64(total) {
			lo = mid
		} else {
			hi = mid
		}
	}

	type cut struct {
		share Share
		exact float64
		got   int32
		hash  uint64
	}
	cuts := make([]cut, len(shares))
	placed := int32(0)
	for i, s := range shares {
		exact := part(s, hi)
		got := int32(math.Floor(exact + 1e-9))
		if got < s.Min {
			got = s.Min
		}
		if s.Max >= 0 && got > s.Max {
			got = s.Max
		}
		cuts[i] = cut{share: s, exact: exact, got: got, hash: remainderHash(key, s.Cluster)}
		placed += got
	}
	// Rounding leaves fewer than one replica per cluster to place.
	sort.SliceStable(cuts, func(i, j int) bool {
		fi, fj := cuts[i].exact-float64(cuts[i].got), cuts[j].exact-float64(cuts[j].got)
		if math.Abs(fi-fj) > 1e-9 {
			return fi > fj
		}
		if cuts[i].hash != cuts[j].hash {
			return cuts[i].hash > cuts[j].hash
		}
		return cuts[i].share.Cluster < cuts[j].share.Cluster
	})
	for left := total - placed; left > 0; {
		progress := false
		for i := range cuts {
			if left == 0 {
				break
			}
			s := cuts[i].share
			if s.Weight == 0 || (s.Max >= 0 && cuts[i].got >= s.Max) {
				continue
			}
			cuts[i].got++
			left--
			progress = true
		}
		if !progress {
			return nil, fmt.Errorf("%d replicas could not be placed under the per-cluster maximums", left)
		}
	}
	out := make(map[string]int32, len(cuts))
	for _, c := range cuts {
		out[c.share.Cluster] = c.got
	}
	return out, nil
}

func remainderHash(key, cluster string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(cluster))
	return h.Sum64()
}
