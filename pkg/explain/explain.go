// Package explain holds what coredns-fed's explain listener answers: how a
// server decided its answer to one query, from its own live state. The fed
// plugin fills a Report; kubectl fed dns explain decodes and prints it,
// without depending on CoreDNS.
package explain

// Path is the listener's one path. Its query parameters are ParamName (a
// domain name), ParamType (A, AAAA, SRV...; A if not given), and
// ParamClient (an address) or ParamECS (a subnet, as an EDNS Client Subnet
// option).
const (
	Path        = "/explain"
	ParamName   = "name"
	ParamType   = "type"
	ParamClient = "client"
	ParamECS    = "ecs"
)

// Report is how a server answered one query.
type Report struct {
	// Server is the server that answered, as the client reached it; the
	// listener leaves it empty and kubectl fed fills it in.
	Server string `json:"server,omitempty"`
	Query  Query  `json:"query"`
	// Zone is the zone the name is in; Kind the kind of name: service,
	// srv, cluster, apex, interior, nameserver or other.
	Zone string `json:"zone"`
	Kind string `json:"kind"`
	// Level is the name's level (global, region or zone) and
	// AnsweredLevel the one that answered: a wider one when nothing was
	// healthy at the name's own.
	Level         string `json:"level,omitempty"`
	AnsweredLevel string `json:"answeredLevel,omitempty"`
	// Serial is the SOA serial of the state the answer was computed from.
	Serial uint32 `json:"serial"`
	// Client is set when the policy looked the client up.
	Client *Client `json:"client,omitempty"`
	// Policy is set when members were chosen by a policy.
	Policy *Policy `json:"policy,omitempty"`
	// Clusters are the members that have the Service, by name.
	Clusters []Cluster `json:"clusters,omitempty"`
	Answer   Answer    `json:"answer"`
}

// Query is the question explained.
type Query struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Source is the source address the query was taken to come from, and
	// ECS the subnet of its EDNS Client Subnet option.
	Source string `json:"source,omitempty"`
	ECS    string `json:"ecs,omitempty"`
}

// Where the client's address came from.
const (
	FromECS    = "ecs"
	FromSource = "source"
)

// Client is where the server located the client.
type Client struct {
	// Address is the address looked up, and From where it came from:
	// FromECS or FromSource.
	Address string `json:"address,omitempty"`
	From    string `json:"from"`
	// Result is the lookup's: found, not_found, private, metadata or
	// no_database, as in coredns_fed_location_lookups_total.
	Result string `json:"result"`
	// Network is the database's network that holds the address.
	Network string `json:"network,omitempty"`
	// City is the database's English name of the network's city, and
	// Country its country's ISO 3166-1 code, when it has them.
	City    string `json:"city,omitempty"`
	Country string `json:"country,omitempty"`
	// Latitude and Longitude are set when the location is known.
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
	// LatencyRegion is the latency table's region the client is taken to
	// be in.
	LatencyRegion string `json:"latencyRegion,omitempty"`
}

// Where the policy in force was set.
const (
	SourceCorefile   = "corefile"
	SourceAnnotation = "annotation"
)

// Policy is the policy that chose the members.
type Policy struct {
	// Requested is the policy in force for the Service, set where Source
	// says: in the Corefile, or in an annotation of the Service in member
	// SourceCluster.
	Requested     string `json:"requested"`
	Source        string `json:"source"`
	SourceCluster string `json:"sourceCluster,omitempty"`
	// Applied is the policy that chose: geo falls back to latency for a
	// client of unknown location, and latency to all with no latency to
	// go by.
	Applied string `json:"applied"`
	// Nearest is how many members geo and latency answer with.
	Nearest  int            `json:"nearest,omitempty"`
	Weights  map[string]int `json:"weights,omitempty"`
	Failover []string       `json:"failover,omitempty"`
}

// Cluster is a member that has the Service, as the server sees it.
type Cluster struct {
	Name   string `json:"name"`
	Region string `json:"region,omitempty"`
	Zone   string `json:"zone,omitempty"`
	// Ready is set when the Service has a ready endpoint in the member.
	Ready bool `json:"ready"`
	// Healthy is set when some entry point is ready and passes its probe.
	Healthy     bool         `json:"healthy"`
	EntryPoints []EntryPoint `json:"entryPoints,omitempty"`
	// Candidate is set when the member was one the policy chose from:
	// healthy (or, failing open, any) and within the answered level.
	Candidate bool `json:"candidate"`
	// Rank is the member's place in the policy's choice, from 1; 0 when
	// not chosen.
	Rank int `json:"rank,omitempty"`
	// DistanceKm is the great-circle distance from the client.
	DistanceKm *float64 `json:"distanceKm,omitempty"`
	// Latency is the member's latency to the client, when known.
	Latency *Latency `json:"latency,omitempty"`
}

// EntryPoint is a load-balancer address or host name of the Service in a
// member.
type EntryPoint struct {
	Address  string  `json:"address,omitempty"`
	Hostname string  `json:"hostname,omitempty"`
	Healthy  bool    `json:"healthy"`
	Probes   []Probe `json:"probes,omitempty"`
}

// Probe results.
const (
	ProbeUp      = "up"
	ProbeDown    = "down"
	ProbePending = "pending"
)

// Probe is the server's probe of an entry point.
type Probe struct {
	// Target is what is probed, such as tcp://192.0.2.1:80.
	Target string `json:"target"`
	Result string `json:"result"`
	// RTTMillis is the moving average of the successful probes' round
	// trips.
	RTTMillis float64 `json:"rttMillis,omitempty"`
}

// Where a member's latency came from.
const (
	LatencyTable = "table"
	LatencyProbe = "probe"
)

// Latency is a member's latency to the client.
type Latency struct {
	Millis float64 `json:"millis"`
	Source string  `json:"source"`
}

// Answer is the reply the server gives the query.
type Answer struct {
	Rcode string `json:"rcode"`
	// Outcome is the outcome of coredns_fed_answers_total.
	Outcome string `json:"outcome"`
	// TTL is that of the answer's records, or of the SOA for a negative
	// answer.
	TTL uint32 `json:"ttl"`
	// ECSScope is the ECS scope prefix length of the reply, for a query
	// with ECS.
	ECSScope *uint8   `json:"ecsScope,omitempty"`
	Records  []string `json:"records,omitempty"`
	// Fallthrough is set when the name does not exist and the server
	// passes the query to the next plugin instead (fallthrough).
	Fallthrough bool `json:"fallthrough,omitempty"`
}

// Error is the listener's body when it cannot explain.
type Error struct {
	Error string `json:"error"`
}
