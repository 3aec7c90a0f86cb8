package plugin

// The one screen of `kubectl fed status`: the members table, the servers
// table, and what needs action.

import (
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/cli-runtime/pkg/printers"
)

// printStatus writes st as two tables and a list of what needs action.
func printStatus(out io.Writer, st *FederationStatus, now time.Time) error {
	w := printers.GetNewTabWriter(out)
	fmt.Fprintln(w, "MEMBER\tREADY\tLATENCY\tVERSION\tTOKENS\tPLACED\tPENDING\tDRIFTED")
	for _, m := range st.Members {
		version := m.Version
		if version == "" {
			version = "<unknown>"
		}
		drifted := "-"
		if m.Drifted != nil {
			drifted = fmt.Sprint(len(m.Drifted))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", m.Name, readyCell(m.Ready, m.Reason), formatLatency(m.latency), version,
			tokensCell(m.tokens, now), m.Placed, len(m.Pending), drifted)
	}
	if len(st.Members) == 0 {
		fmt.Fprintf(w, "<none: no cluster has joined %s>\n", st.Federation)
	}
	if err := w.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(out)
	if st.DNSNote != "" {
		fmt.Fprintf(out, "DNS: %s\n", st.DNSNote)
	} else {
		w = printers.GetNewTabWriter(out)
		fmt.Fprintln(w, "SERVER\tCLUSTER\tANSWERS\tSYNCED\tLAST SYNC\tSERIAL\tSOA")
		for _, s := range st.Servers {
			addr, cluster, serial, soa := s.Address, s.Cluster, "-", "-"
			if addr == "" {
				addr = "<no address>"
			}
			if cluster == "" {
				cluster = "-"
			} else if s.Host {
				cluster += " (host)"
			}
			if s.SOA != "" {
				serial = fmt.Sprint(s.Serial)
				switch {
				case s.Stale:
					soa = "stale"
				case s.Agrees:
					soa = "agrees"
				default:
					soa = "differs"
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", addr, cluster, yesNo(s.Answering), yesNo(s.Synced), lastSyncCell(s, now), serial, soa)
		}
		if len(st.Servers) == 0 {
			fmt.Fprintln(w, "<none>")
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(out)
	if len(st.Problems) == 0 {
		_, err := fmt.Fprintf(out, "Nothing needs action in %s.\n", st.Federation)
		return err
	}
	fmt.Fprintln(out, "Needs action:")
	for _, p := range st.Problems {
		fmt.Fprintf(out, "  %s: %s\n      fix: %s\n", p.Subject, strings.TrimSuffix(p.Message, "."), p.Fix)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
