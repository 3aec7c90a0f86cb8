package explain

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Print writes a report as kubectl fed dns explain shows it: the query, the
// client, the policy and the answer, then a table of the members, one row
// per entry point.
func Print(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
	if r.Server != "" {
		fmt.Fprintf(tw, "Server:\t%s\n", r.Server)
	}
	fmt.Fprintf(tw, "Query:\t%s %s%s\n", r.Query.Name, r.Query.Type, queryFrom(r.Query))
	name := r.Kind + " name in " + r.Zone
	if r.Level != "" {
		name += ", level " + r.Level
		if r.AnsweredLevel != "" && r.AnsweredLevel != r.Level {
			name += ", answered at " + r.AnsweredLevel
		}
	}
	fmt.Fprintf(tw, "Name:\t%s (serial %d)\n", name, r.Serial)
	if r.Client != nil {
		fmt.Fprintf(tw, "Client:\t%s\n", clientLine(r.Client))
	}
	if r.Policy != nil {
		fmt.Fprintf(tw, "Policy:\t%s\n", policyLine(r.Policy))
	}
	fmt.Fprintf(tw, "Answer:\t%s\n", answerLine(&r.Answer))
	for _, rr := range r.Answer.Records {
		fmt.Fprintf(tw, "\t%s\n", strings.ReplaceAll(rr, "\t", " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Clusters) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return printClusters(w, r.Clusters)
}

func queryFrom(q Query) string {
	var parts []string
	if q.Source != "" {
		parts = append(parts, "from "+q.Source)
	}
	if q.ECS != "" {
		parts = append(parts, "ECS "+q.ECS)
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

func clientLine(c *Client) string {
	from := "the source address"
	if c.From == FromECS {
		from = "ECS"
	}
	addr := c.Address
	if addr == "" {
		addr = "no address"
	}
	s := fmt.Sprintf("%s (from %s): %s", addr, from, strings.ReplaceAll(c.Result, "_", " "))
	if c.Network != "" {
		s += " in " + c.Network
	}
	if place := strings.Trim(c.City+", "+c.Country, ", "); place != "" {
		s += ", " + place
	}
	if c.Latitude != nil && c.Longitude != nil {
		s += fmt.Sprintf(" (%.4f, %.4f)", *c.Latitude, *c.Longitude)
	}
	if c.LatencyRegion != "" {
		s += ", latency from " + c.LatencyRegion
	}
	return s
}

func policyLine(p *Policy) string {
	s := p.Requested + ", from the Corefile"
	if p.Source == SourceAnnotation {
		s = p.Requested + ", from the annotation of the Service in " + p.SourceCluster
	}
	if p.Applied != p.Requested {
		s += "; applied " + p.Applied
	}
	if p.Nearest > 0 {
		s += ", nearest " + strconv.Itoa(p.Nearest)
	}
	if len(p.Weights) > 0 {
		var ws []string
		for name, w := range p.Weights {
			ws = append(ws, name+"="+strconv.Itoa(w))
		}
		slices.Sort(ws)
		s += ", weights " + strings.Join(ws, ",")
	}
	if len(p.Failover) > 0 {
		s += ", order " + strings.Join(p.Failover, ",")
	}
	return s
}

func answerLine(a *Answer) string {
	s := fmt.Sprintf("%s (%s), TTL %d", a.Rcode, a.Outcome, a.TTL)
	if a.ECSScope != nil {
		s += fmt.Sprintf(", ECS scope /%d", *a.ECSScope)
	}
	if a.Fallthrough {
		s += ", passed to the next plugin (fallthrough)"
	}
	return s
}

// printClusters writes the members' table.
func printClusters(w io.Writer, clusters []Cluster) error {
	tw := tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tREGION\tZONE\tREADY\tENTRY POINT\tHEALTHY\tPROBE\tRTT\tDISTANCE\tLATENCY\tCANDIDATE\tRANK")
	for _, c := range clusters {
		eps := c.EntryPoints
		if len(eps) == 0 {
			eps = []EntryPoint{{}}
		}
		for _, ep := range eps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				c.Name, dash(c.Region), dash(c.Zone), yesNo(c.Ready), dash(ep.Address+ep.Hostname), yesNo(ep.Healthy),
				probeResults(ep.Probes), probeRTTs(ep.Probes), distance(c.DistanceKm), latency(c.Latency), yesNo(c.Candidate), rank(c.Rank))
		}
	}
	return tw.Flush()
}

func probeResults(probes []Probe) string {
	if len(probes) == 0 {
		return "-"
	}
	var out []string
	for _, p := range probes {
		out = append(out, p.Result+" "+p.Target)
	}
	return strings.Join(out, ", ")
}

func probeRTTs(probes []Probe) string {
	var out []string
	for _, p := range probes {
		if p.RTTMillis > 0 {
			out = append(out, millis(p.RTTMillis))
		}
	}
	return dash(strings.Join(out, ","))
}

func distance(km *float64) string {
	if km == nil {
		return "-"
	}
	return fmt.Sprintf("%.0fkm", *km)
}

func latency(l *Latency) string {
	if l == nil {
		return "-"
	}
	return millis(l.Millis) + " (" + l.Source + ")"
}

func millis(ms float64) string {
	return strconv.FormatFloat(ms, 'f', -1, 64) + "ms"
}

func rank(r int) string {
	if r == 0 {
		return "-"
	}
	return strconv.Itoa(r)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
