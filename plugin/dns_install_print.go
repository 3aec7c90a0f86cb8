package plugin

// What install prints once the servers are applied: where coredns-fed
// serves the zone, the records for the parent zone, and the clusters where
// it is not installed or not ready.

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/cli-runtime/pkg/printers"
)

// printRecords writes the servers, the NS and glue records for the parent
// zone and, for a signed zone, the DS records.
func (o *DNSInstallOptions) printRecords(servers []nameserver) error {
	if len(servers) == 0 {
		return nil
	}
	domain := o.domain()
	fmt.Fprintf(o.Out, "\ncoredns-fed serves %s. at:\n\n", domain)
	if err := printServers(o.Out, servers); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "\nAdd these records to the parent zone:\n\n")
	printDelegation(o.Out, domain, servers)
	if o.keys != nil {
		if err := printDS(o.Out, domain, o.keys.set, uint32(o.NSTTL)); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.Out, "\nThen check the servers with: kubectl fed dns check\n")
	return nil
}

// installErrors names the clusters where coredns-fed is not installed, and
// those where its pods are not ready, one error for each kind.
func (o *DNSInstallOptions) installErrors(failed, notReady []string) error {
	var errs []error
	if len(failed) > 0 {
		errs = append(errs, fmt.Errorf("coredns-fed is not installed in %d of %d clusters, which the records leave out; fix them and run install again:\n  %s",
			len(failed), len(o.clusters), strings.Join(failed, "\n  ")))
	}
	if len(notReady) > 0 {
		errs = append(errs, fmt.Errorf("coredns-fed's pods are not ready in %d of %d clusters, whose servers do not answer yet; fix them, and run install again to wait for them:\n  %s",
			len(notReady), len(o.clusters), strings.Join(notReady, "\n  ")))
	}
	return errors.Join(errs...)
}

// printServers writes a table of the servers and their clusters.
func printServers(w io.Writer, servers []nameserver) error {
	tw := printers.GetNewTabWriter(w)
	fmt.Fprintln(tw, "NAMESERVER\tADDRESS\tCLUSTER")
	for _, ns := range servers {
		addr := "-"
		if ns.addr.IsValid() {
			addr = ns.addr.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ns.name, addr, ns.cluster)
	}
	return tw.Flush()
}

// printDelegation writes the parent zone's records in zone-file syntax.
func printDelegation(w io.Writer, domain string, servers []nameserver) {
	for _, ns := range servers {
		fmt.Fprintf(w, "%s.\tIN\tNS\t%s.\n", domain, ns.name)
	}
	for _, ns := range servers {
		if !ns.addr.IsValid() {
			continue
		}
		rr := "A"
		if ns.addr.Is6() {
			rr = "AAAA"
		}
		fmt.Fprintf(w, "%s.\tIN\t%s\t%s\n", ns.name, rr, ns.addr)
	}
}
