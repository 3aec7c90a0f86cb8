// Package validation checks the names and values users give kfed's
// commands before anything is written, with messages that say why a value
// is refused.
package validation

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// FederationName returns why name cannot name a federation, or nothing.
// The name is a DNS label because it is part of every federated service's
// DNS name, <svc>.<namespace>.<federation>.svc.<domain>.
func FederationName(name string) []string {
	return dnsLabel(name)
}

// ClusterName returns why name cannot name a member, or nothing. Members
// are named by DNS labels, as they appear in placement annotations and in
// the names of their credential Secrets.
func ClusterName(name string) []string {
	return dnsLabel(name)
}

// Topology returns why value cannot be a region or zone of a member, or
// nothing. Regions and zones are DNS labels: they are part of the region-
// and zone-scoped DNS names.
func Topology(value string) []string {
	return dnsLabel(value)
}

func dnsLabel(s string) []string {
	if s == "" {
		return []string{"must not be empty"}
	}
	return validation.IsDNS1123Label(s)
}

// Domain returns why domain cannot be a federation's DNS domain, or
// nothing. The domain is a zone that the parent zone delegates to
// coredns-fed, so it has at least two labels, is lowercase, and is not an IP
// address. A single trailing dot is accepted and means the same domain.
func Domain(domain string) []string {
	d := strings.TrimSuffix(domain, ".")
	if d == "" {
		return []string{"must not be empty"}
	}
	var errs []string
	if len(d) > 253 {
		errs = append(errs, fmt.Sprintf("must be no more than 253 characters, not %d", len(d)))
	}
	if validation.IsValidIP(nil, d) == nil {
		return append(errs, "must be a DNS name, not an IP address")
	}
	if strings.ContainsAny(d, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		errs = append(errs, "must be lowercase")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		errs = append(errs, "must have at least two labels, such as demo.example.com: a top-level domain cannot be delegated to coredns-fed")
	}
	for _, l := range labels {
		if l == "" {
			errs = append(errs, "must not contain empty labels (\"..\") or start with a dot")
			break
		}
		if l == "*" {
			errs = append(errs, "must not contain a wildcard")
			break
		}
		if msgs := validation.IsDNS1123Label(strings.ToLower(l)); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("label %q: %s", l, strings.Join(msgs, "; ")))
		}
	}
	if last := labels[len(labels)-1]; last != "" && strings.Trim(last, "0123456789") == "" {
		errs = append(errs, "must not end in an all-numeric label")
	}
	return errs
}

// NormalizeDomain returns the domain in the form kfed stores: without a
// trailing dot.
func NormalizeDomain(domain string) string {
	return strings.TrimSuffix(domain, ".")
}
