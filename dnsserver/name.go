package dnsserver

import "strings"

// Kind tells what a name in the zone stands for.
type Kind uint8

// The kinds of names the plugin knows. Whether a name of a given kind exists
// is for the index to say; the parser only tells the shape.
const (
	// KindNone is a name of no known shape: it cannot exist.
	KindNone Kind = iota
	// KindApex is the zone itself.
	KindApex
	// KindService is <svc>.<ns>.<fed>.svc[.<zone>][.<region>].<domain>.
	KindService
	// KindSRV is _<port>._<proto>.<svc>.<ns>.<fed>.svc[.<zone>][.<region>].<domain>.
	KindSRV
	// KindCluster is <cluster>.<svc>.<ns>.<fed>.svc.<domain>: the entry
	// points of one member, which SRV answers name as their targets.
	KindCluster
	// KindInterior is an empty non-terminal above service names, such as
	// <ns>.<fed>.svc.<domain> or <region>.<domain>. It exists (NODATA)
	// exactly when a name below it exists (RFC 8020).
	KindInterior
)

// Level is how wide a name's scope is.
type Level uint8

// The levels of a federated service's names, widest first.
const (
	LevelGlobal Level = iota
	LevelRegion
	LevelZone
)

func (l Level) String() string {
	switch l {
	case LevelRegion:
		return "region"
	case LevelZone:
		return "zone"
	}
	return "global"
}

// Name is a parsed query name. Fields that do not apply to its Kind are
// empty. All of them are lower case, since the parser is given a lower-case
// name.
type Name struct {
	Kind Kind
	// Level is set from Region and Zone.
	Level Level
	// Service and Namespace name the federated Service.
	Service, Namespace string
	// Region and Zone scope the name; Zone implies Region.
	Region, Zone string
	// Port and Proto are the SRV name's port name and protocol, without
	// their leading underscores.
	Port, Proto string
	// Cluster names the member of a KindCluster name.
	Cluster string
}

// maxLabels is the most labels a name below the zone can have and still
// mean something: _<port>._<proto>.<svc>.<ns>.<fed>.svc.<zone>.<region>.
const maxLabels = 8

// ParseName parses qname, a lower-case absolute name in zone (also lower
// case and absolute), for the federation fed. It never fails: a name of no
// known shape is KindNone. It does not allocate.
func ParseName(qname, zone, fed string) Name {
	if !strings.HasSuffix(qname, zone) {
		return Name{}
	}
	rel := qname[:len(qname)-len(zone)]
	if rel == "" {
		return Name{Kind: KindApex}
	}
	if zone != "." {
		// What is left must end on a label boundary: "xdemo.example.com."
		// is not in "demo.example.com.".
		if rel[len(rel)-1] != '.' {
			return Name{}
		}
		rel = rel[:len(rel)-1]
	} else if rel[len(rel)-1] == '.' {
		rel = rel[:len(rel)-1]
	}
	if rel == "" {
		// An empty label: ".demo.example.com.".
		return Name{}
	}

	var buf [maxLabels]string
	n := 0
	for rel != "" {
		if n == maxLabels {
			return Name{}
		}
		i := strings.IndexByte(rel, '.')
		if i < 0 {
			buf[n], rel = rel, ""
		} else {
			buf[n], rel = rel[:i], rel[i+1:]
		}
		if buf[n] == "" {
			return Name{}
		}
		n++
	}
	labels := buf[:n]

	// Where "<fed>.svc" sits decides the shape. With a service in a
	// namespace named "svc", or a federation named like a namespace, more
	// than one position may fit; the positions are tried from the most
	// specific shape down, so that a real service name always wins.
	for _, at := range [...]int{2, 4, 3, 1, 0} {
		if at+1 >= n || labels[at] != fed || labels[at+1] != "svc" {
			continue
		}
		name, ok := located(labels[at+2:])
		if !ok {
			continue
		}
		prefix := labels[:at]
		switch at {
		case 2:
			name.Kind, name.Service, name.Namespace = KindService, prefix[0], prefix[1]
			return name
		case 4:
			port, okPort := strings.CutPrefix(prefix[0], "_")
			proto, okProto := strings.CutPrefix(prefix[1], "_")
			if okPort && okProto && port != "" && proto != "" && !strings.HasPrefix(prefix[2], "_") {
				name.Kind, name.Port, name.Proto, name.Service, name.Namespace = KindSRV, port, proto, prefix[2], prefix[3]
				return name
			}
		case 3:
			if proto, ok := strings.CutPrefix(prefix[0], "_"); ok && proto != "" {
				// _<proto>.<svc>.<ns>.<fed>.svc: the parent of SRV names.
				name.Kind, name.Proto, name.Service, name.Namespace = KindInterior, proto, prefix[1], prefix[2]
				return name
			}
			if name.Level == LevelGlobal && !strings.HasPrefix(prefix[1], "_") {
				name.Kind, name.Cluster, name.Service, name.Namespace = KindCluster, prefix[0], prefix[1], prefix[2]
				return name
			}
		case 1:
			name.Kind, name.Namespace = KindInterior, prefix[0]
			return name
		case 0:
			name.Kind = KindInterior
			return name
		}
	}
	// svc[.<zone>].<region> and [<zone>.]<region>: interior names too.
	if labels[0] == "svc" {
		if name, ok := located(labels[1:]); ok {
			name.Kind = KindInterior
			return name
		}
	}
	if n <= 2 {
		name, _ := located(labels)
		if name.Level != LevelGlobal {
			name.Kind = KindInterior
			return name
		}
	}
	return Name{}
}

// located reads the location labels after "svc": none, <region>, or
// <zone>.<region>.
func located(loc []string) (Name, bool) {
	switch len(loc) {
	case 0:
		return Name{Level: LevelGlobal}, true
	case 1:
		return Name{Level: LevelRegion, Region: loc[0]}, true
	case 2:
		return Name{Level: LevelZone, Zone: loc[0], Region: loc[1]}, true
	}
	return Name{}, false
}
