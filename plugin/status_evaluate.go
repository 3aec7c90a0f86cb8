package plugin

// What in a federation's state needs action, and the command that fixes
// each: the judgement of `kubectl fed status`, apart from the reading.

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
)

// evaluate returns what needs action in st, members first, then servers.
// It marks each server's Agrees and Stale. serial is the SOA serial the
// servers should give, 0 when unknown; a token expiring within
// expiryWarn, and a pod that last synced longer than syncWarn ago, need
// action.
func evaluate(st *FederationStatus, serial uint32, now time.Time, expiryWarn, syncWarn time.Duration) []Problem {
	problems := []Problem{}
	for _, m := range st.Members {
		problems = append(problems, memberProblems(m, now, expiryWarn)...)
	}
	problems = append(problems, serverProblems(st.Servers, serial)...)
	return append(problems, syncProblems(st.Servers, now, syncWarn)...)
}

func memberProblems(m MemberStatus, now time.Time, warn time.Duration) []Problem {
	subject := "member " + m.Name
	var out []Problem
	credentials := false
	if !m.Ready {
		p := Problem{Subject: subject}
		switch m.Reason {
		case v1alpha1.ReasonUnauthorized, v1alpha1.ReasonCredentialsInvalid:
			p.Message = "its API server refuses kfed's credentials: " + m.Message
			p.Fix = "kubectl fed rotate " + m.Name
			credentials = true
		case v1alpha1.ReasonForbidden:
			p.Message = "its API server refuses kfed's identities what they need: " + m.Message
			p.Fix = "kubectl fed join " + m.Name + " --cluster-context CONTEXT-OF-" + strings.ToUpper(m.Name) + " (join again repairs kfed's roles there)"
		default:
			p.Message = "its API server is not reachable: " + m.Message
			p.Fix = "bring back its API server at " + orNone(m.Server) + ", then kubectl fed sync"
		}
		out = append(out, p)
	}
	if msg := tokenProblem(m.tokens, now, warn); msg != "" && !credentials {
		out = append(out, Problem{Subject: subject, Message: msg, Fix: "kubectl fed rotate " + m.Name})
	}
	if n := len(m.Pending); n > 0 {
		out = append(out, Problem{Subject: subject,
			Message: fmt.Sprintf("%s pending (%s): writes or deletions not done there", objects(n), sample(m.Pending)),
			Fix:     "kubectl fed sync"})
	}
	if n := len(m.Drifted); n > 0 {
		out = append(out, Problem{Subject: subject,
			Message: fmt.Sprintf("%s drifted (%s): changed or deleted in the member", objects(n), sample(m.Drifted)),
			Fix:     "kubectl fed diff to see it, then kubectl fed sync to revert it"})
	}
	if n := len(m.CompareErrors); n > 0 {
		out = append(out, Problem{Subject: subject,
			Message: fmt.Sprintf("%s could not be compared: %s", objects(n), m.CompareErrors[0]),
			Fix:     "kubectl fed diff"})
	}
	return out
}

// tokenProblem says what is wrong with a member's tokens, or "": one
// expired, one that never expires, or one that expires within warn or
// is past its refresh (every kubectl fed command refreshes a token due
// for it, and status did: one left due failed to refresh).
func tokenProblem(tokens map[string]store.TokenInfo, now time.Time, warn time.Duration) string {
	var expired, legacy, expiring []string
	var expiredAt, expiresAt time.Time
	for _, id := range membership.Identities() {
		info, ok := tokens[id]
		switch {
		case !ok:
		case info.Legacy():
			legacy = append(legacy, id)
		case !info.Expires.After(now):
			expired = append(expired, id)
			if expiredAt.IsZero() || info.Expires.Before(expiredAt) {
				expiredAt = info.Expires
			}
		case info.Expires.Sub(now) < warn || info.RefreshDue(now):
			expiring = append(expiring, id)
			if expiresAt.IsZero() || info.Expires.Before(expiresAt) {
				expiresAt = info.Expires
			}
		}
	}
	var said []string
	if len(expired) > 0 {
		said = append(said, fmt.Sprintf("%s expired %s ago", tokensOf(expired), duration.HumanDuration(now.Sub(expiredAt))))
	}
	if len(expiring) > 0 {
		verb := "expires in %s and was not refreshed"
		if len(expiring) > 1 {
			verb = "expire in %s and were not refreshed"
		}
		said = append(said, tokensOf(expiring)+" "+fmt.Sprintf(verb, duration.HumanDuration(expiresAt.Sub(now))))
	}
	if len(legacy) > 0 {
		verb := "never expires (an older kind of token)"
		if len(legacy) > 1 {
			verb = "never expire (an older kind of token)"
		}
		said = append(said, tokensOf(legacy)+" "+verb)
	}
	return strings.Join(said, "; ")
}

// tokensOf names identities' tokens: "the manager token", "the manager
// and dns-reader tokens".
func tokensOf(ids []string) string {
	if len(ids) == 1 {
		return "the " + ids[0] + " token"
	}
	return "the " + strings.Join(ids[:len(ids)-1], ", ") + " and " + ids[len(ids)-1] + " tokens"
}

func serverProblems(servers []ServerStatus, serial uint32) []Problem {
	// The SOA most servers give, the first of them on a tie.
	count := map[string]int{}
	common := ""
	for _, s := range servers {
		if s.SOA == "" {
			continue
		}
		count[s.SOA]++
		if common == "" || count[s.SOA] > count[common] {
			common = s.SOA
		}
	}
	var out []Problem
	for i := range servers {
		s := &servers[i]
		subject := "server " + serverName(*s)
		if s.SOA != "" {
			s.Agrees = s.SOA == common
			s.Stale = serial != 0 && s.Serial != serial
		}
		install := "kubectl fed dns install"
		if s.Cluster != "" && !s.Host {
			install += " --all-clusters"
		}
		switch {
		case s.Error != "" && s.Address == "":
			out = append(out, Problem{Subject: subject, Message: s.Error,
				Fix: fmt.Sprintf("kubectl describe service -n %s %s (in cluster %s), then %s", v1alpha1.Namespace, corednsFedName, s.Cluster, install)})
		case !s.Answering:
			out = append(out, Problem{Subject: subject, Message: s.Error, Fix: "kubectl fed dns check, and " + install + " if its pods are gone"})
		case s.Error != "":
			out = append(out, Problem{Subject: subject, Message: s.Error, Fix: "kubectl fed dns check, and read the coredns-fed log"})
		case s.Stale:
			out = append(out, Problem{Subject: subject,
				Message: fmt.Sprintf("its SOA serial is %d, the Federation's is %d: it serves another Federation of that name, or an old snapshot", s.Serial, serial),
				Fix:     install})
		case !s.Agrees:
			out = append(out, Problem{Subject: subject,
				Message: fmt.Sprintf("its SOA (%s) differs from the other servers' (%s): its Corefile differs", s.SOA, common),
				Fix:     install})
		}
	}
	return out
}

// serverName names a server as the servers table does.
func serverName(s ServerStatus) string {
	switch {
	case s.Address == "":
		return "of cluster " + s.Cluster
	case s.Cluster == "":
		return s.Address
	}
	return s.Address + " (" + s.Cluster + ")"
}

func objects(n int) string {
	if n == 1 {
		return "1 object"
	}
	return fmt.Sprintf("%d objects", n)
}

// sample names up to three objects of a list, keeping a line short.
func sample(names []string) string {
	s := append([]string(nil), names...)
	sort.Strings(s)
	if len(s) > 3 {
		return strings.Join(s[:3], ", ") + fmt.Sprintf(" and %d more", len(s)-3)
	}
	return strings.Join(s, ", ")
}
