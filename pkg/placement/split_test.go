package placement

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func even(names ...string) []Share {
	var s []Share
	for _, n := range names {
		s = append(s, Share{Cluster: n, Weight: 1, Max: -1})
	}
	return s
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		total  int32
		shares []Share
		want   map[string]int32
	}{
		{"10 over 2", 10, even("eur", "usa"), map[string]int32{"eur": 5, "usa": 5}},
		{"1000 over 5", 1000, even("a", "b", "c", "d", "e"), map[string]int32{"a": 200, "b": 200, "c": 200, "d": 200, "e": 200}},
		{"weights 2:1:1", 1000, []Share{{"usa", 2, 0, -1}, {"eur", 1, 0, -1}, {"jpn", 1, 0, -1}}, map[string]int32{"usa": 500, "eur": 250, "jpn": 250}},
		{"zero", 0, even("a", "b"), map[string]int32{"a": 0, "b": 0}},
		{"max caps and the rest moves", 10, []Share{{"usa", 1, 0, 2}, {"eur", 1, 0, -1}, {"jpn", 1, 0, -1}}, map[string]int32{"usa": 2, "eur": 4, "jpn": 4}},
		{"min raises", 10, []Share{{"usa", 1, 6, -1}, {"eur", 1, 0, -1}, {"jpn", 1, 2, -1}}, map[string]int32{"usa": 6, "eur": 2, "jpn": 2}},
		{"weight 0 gets its min", 9, []Share{{"usa", 0, 1, -1}, {"eur", 1, 0, -1}, {"jpn", 1, 0, -1}}, map[string]int32{"usa": 1, "eur": 4, "jpn": 4}},
		{"everything capped exactly", 6, []Share{{"a", 1, 0, 1}, {"b", 1, 0, 2}, {"c", 1, 0, 3}}, map[string]int32{"a": 1, "b": 2, "c": 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Split("default/web", tc.total, tc.shares)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		total  int32
		shares []Share
		want   string
	}{
		{"negative", -1, even("a"), "must not be negative"},
		{"no clusters", 3, nil, "no cluster"},
		{"mins too big", 3, []Share{{"a", 1, 2, -1}, {"b", 1, 2, -1}}, "minimums add up to 4, more than the 3"},
		{"maxes too small", 10, []Share{{"a", 1, 0, 2}, {"b", 1, 0, 3}}, "only 5 of 10 replicas fit"},
		{"max below min", 10, []Share{{"a", 1, 3, 2}}, "maximum 2 is below minimum 3"},
		{"all weight 0", 4, []Share{{"a", 0, 1, -1}, {"b", 0, 1, -1}}, "only 2 of 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Split("x", tc.total, tc.shares)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestSplitSumsAndBounds checks, over many totals and mixes, that a split
// always adds up and honours every bound.
func TestSplitSumsAndBounds(t *testing.T) {
	shares := []Share{{"a", 3, 1, -1}, {"b", 1, 0, 7}, {"c", 2, 2, 20}, {"d", 0, 1, -1}, {"e", 1, 0, -1}}
	for total := int32(4); total < 300; total++ {
		got, err := Split(fmt.Sprint("obj", total), total, shares)
		if err != nil {
			t.Fatalf("total %d: %v", total, err)
		}
		sum := int32(0)
		for _, s := range shares {
			n := got[s.Cluster]
			if n < s.Min || (s.Max >= 0 && n > s.Max) {
				t.Errorf("total %d: %s got %d outside [%d,%d]", total, s.Cluster, n, s.Min, s.Max)
			}
			sum += n
		}
		if sum != total {
			t.Errorf("total %d: split %v adds up to %d", total, got, sum)
		}
	}
}

// TestSplitRemainderSpreads checks that remainders do not pile up on one
// cluster across objects, and that one object always splits the same way.
func TestSplitRemainderSpreads(t *testing.T) {
	clusters := even("usa", "eur", "jpn")
	extra := map[string]int{}
	for i := 0; i < 100; i++ {
		key := fmt.Sprintf("default/app-%d", i)
		got, err := Split(key, 10, clusters) // 3 each and one left over
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Split(key, 10, clusters)
		if !reflect.DeepEqual(got, again) {
			t.Fatalf("%s split differently twice: %v, %v", key, got, again)
		}
		for c, n := range got {
			if n == 4 {
				extra[c]++
			}
		}
	}
	for _, c := range []string{"usa", "eur", "jpn"} {
		// 100 remainders over 3 clusters: about 33 each. Fewer than 20 or
		// more than 47 would be a 3-sigma departure from a fair spread.
		if extra[c] < 20 || extra[c] > 47 {
			t.Errorf("remainder spread %v is concentrated", extra)
		}
	}
}

func TestReplicas(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want int32
		err  string
	}{
		{int64(3), 3, ""},
		{int64(0), 0, ""},
		{int64(2147483647), 2147483647, ""},
		{float64(4), 4, ""},
		{int64(3000000000), 0, "3000000000 is out of range: a count goes from 0 to 2147483647"},
		{int64(-1), 0, "-1 must not be negative"},
		{float64(1e10), 0, "1e+10 is out of range"},
		{float64(-2), 0, "-2 must not be negative"},
		{float64(1.5), 0, "1.5 is not a whole number"},
		{"3", 0, "3 is a string, not a number"},
		{nil, 0, "null is not a count"},
	} {
		got, err := Replicas(tc.in)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("Replicas(%v) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Replicas(%v): got %v, want an error containing %q", tc.in, err, tc.err)
		}
	}
}
