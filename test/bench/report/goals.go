package report

// Goal is one target of issue 16, or of another issue measured by make
// bench, as the issue states it. Parts record their figures under a
// Goal's Name; the summary shows every goal, and a goal no part recorded
// as "not run".
type Goal struct {
	// Item is the number of issue 16's done-when item, or ISSUE.ITEM for
	// another issue's, such as 17.5.
	Item string
	// Name is the key parts record under, and the row's label.
	Name string
	// Target is the bound as the issue gives it.
	Target string
}

// The names of issue 16's targets, for Target.Name.
const (
	DNSVersusKnot    = "DNS QPS pinned, coredns-fed / knotd"
	DNSVersusFile    = "DNS QPS pinned, coredns-fed / CoreDNS file"
	DNSLost          = "DNS queries lost, coredns-fed"
	ScaleReady       = "scale: start to ready, every member synced"
	ScaleMemory      = "scale: coredns-fed resident memory"
	ScaleQPS         = "scale: QPS / the 3 x 1,000 case"
	ScaleLookup      = "scale: lookup rate in process / 3 x 1,000"
	ScaleChurn       = "scale: change-to-answer p95 under churn"
	CostCurves       = "cost curves: CSV, PNG, fitted growth"
	FailoverSmall    = "LB-down failover p95, 3 x 100"
	ProbeCPU         = "probing CPU, 20 x 2,500"
	FailoverScale    = "LB-down failover p95, 20 x 2,500"
	ResolverFailover = "client leaves a dead cluster, via a resolver"
	ApplyMemory      = "apply 2,000 objects to 20 clusters, peak memory"
	ApplyFloor       = "apply time / members' CPU floor"
	GetAll           = "get svc -A, 20 x 2,500"
	ReapplyTime      = "re-apply unchanged, 200 objects to 6 clusters"
	ReapplySpeedup   = "re-apply unchanged / kubectl apply --server-side"
	BenchTime        = "make bench total time"
	// Issue 17's, on signed answers.
	SignedQPS = "DNSSEC: signed QPS / unsigned, signature cache warm"
	SignedP99 = "DNSSEC: signed p99 latency / unsigned"
	ColdSign  = "DNSSEC: a query's cost with the signature cache cold"
)

// Goals lists issue 16's targets in the order.
var Goals = []Goal{
	{"1", DNSVersusKnot, ">= 0.5x"},
	{"1", DNSVersusFile, ">= 3x"},
	{"1", DNSLost, "0"},
	{"2", ScaleReady, "<= 10s"},
	{"2", ScaleMemory, "<= (pods + services)/1000 + 54 MB"},
	{"2", ScaleQPS, ">= 0.9x"},
	// Where the lab's control planes share the machine, the lookup alone
	// tells whether it grows with the zone.
	{"2", ScaleLookup, ">= 0.9x"},
	{"2", ScaleChurn, "<= 1s"},
	{"3", CostCurves, "growth linear or better"},
	{"4", FailoverSmall, "<= 1s"},
	{"4", ProbeCPU, "<= 10% of a core"},
	{"4", FailoverScale, "<= 3s"},
	{"4", ResolverFailover, "<= TTL + 1s"},
	{"5", ApplyMemory, "<= 300 MB"},
	{"5", ApplyFloor, "<= 1.15x"},
	{"5", GetAll, "<= 2s"},
	{"6", ReapplyTime, "<= 0.5s"},
	{"6", ReapplySpeedup, ">= 10x"},
	{"7", BenchTime, "< 20m"},
	{"17.5", SignedQPS, ">= 0.5x"},
	{"17.5", SignedP99, "reported"},
	{"17.5", ColdSign, "reported"},
}
