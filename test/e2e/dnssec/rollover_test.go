//go:build e2e

package dnssec_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/dnssec"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// TestRolloverUnderLoad is done-when 3 and 4: rotate-key rolls the ZSK by
// pre-publication while a client asks unbound for the app every 100 ms,
// and not one answer fails validation. Interrupted after its first step,
// it goes on from there when run again, and dns check shows the phase.
func TestRolloverUnderLoad(t *testing.T) {
	in := setUp(t)
	c := startChain(t, in.records, nil)
	framework.Eventually(t, 30*time.Second, 250*time.Millisecond, "unbound validates "+appFQDN, func(context.Context) error {
		r, err := c.resolve("udp", appFQDN, dns.TypeA)
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
			return fmt.Errorf("rcode %s, AD %v", dns.RcodeToString[r.Rcode], r.AuthenticatedData)
		}
		return nil
	})
	before := hostKeySet(t)
	oldZSK := before.Signing(dnssec.RoleZSK)[0].Tag

	// The client: every 100 ms, one query; every answer must be NOERROR
	// with AD and the app's addresses.
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var asked int
	var failures []string
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			r, err := c.resolve("udp", appFQDN, dns.TypeA)
			mu.Lock()
			asked++
			switch {
			case err != nil:
				failures = append(failures, fmt.Sprintf("%s: %v", time.Now().Format(time.StampMilli), err))
			case r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData || len(framework.Addresses(r)) != len(members):
				failures = append(failures, fmt.Sprintf("%s: rcode %s, AD %v, %d addresses", time.Now().Format(time.StampMilli),
					dns.RcodeToString[r.Rcode], r.AuthenticatedData, len(framework.Addresses(r))))
			}
			mu.Unlock()
		}
	})

	// One step, then a run to the end: the roll resumes from its phase.
	first, err := kubectl.Run(t.Context(), "fed", "dns", "rotate-key", "--context", host, "--safety", "2s", "--timeout", "2m", "--wait=false")
	if err != nil {
		t.Fatal(err)
	}
	if first.ExitCode != 0 || !strings.Contains(first.Stdout, "Published ZSK") {
		t.Fatalf("rotate-key --wait=false: %s", first)
	}
	mid := hostKeySet(t)
	if mid.Rollover == nil || mid.Rollover.Phase != dnssec.PhasePublished || mid.Rollover.Old != oldZSK {
		t.Fatalf("after the first step, the key set's roll is %+v", mid.Rollover)
	}
	check, err := kubectl.Run(t.Context(), "fed", "dns", "check", "--context", host)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(check.Stdout, fmt.Sprintf("ZSK roll from %d to %d, phase published", oldZSK, mid.Rollover.New)) {
		t.Errorf("dns check does not show the roll's phase: %s", check)
	}
	rest, err := kubectl.Run(t.Context(), "fed", "dns", "rotate-key", "--context", host, "--safety", "2s", "--timeout", "2m")
	if err != nil {
		t.Fatal(err)
	}
	if rest.ExitCode != 0 || !strings.Contains(rest.Stdout, "the roll is done") {
		t.Fatalf("rotate-key: %s", rest)
	}
	// Answers keep validating after the old key is gone from every cache.
	time.Sleep(2 * nsTTL * time.Second)
	stop()
	wg.Wait()

	after := hostKeySet(t)
	newZSK := after.Signing(dnssec.RoleZSK)[0].Tag
	if after.Rollover != nil || newZSK == oldZSK || newZSK != mid.Rollover.New || after.Find(oldZSK) != nil || len(after.Keys) != 2 {
		t.Errorf("after the roll, the key set is %+v", after)
	}
	for _, server := range in.servers {
		r, err := askDO(server, domain, dns.TypeDNSKEY, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tags := dnskeyTags(r); slices.Contains(tags, oldZSK) || !slices.Contains(tags, newZSK) {
			t.Errorf("%s serves DNSKEY %v after the roll from %d to %d", server, tags, oldZSK, newZSK)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("the client asked %d times during the roll; %s and %s", asked, strings.TrimSpace(first.Stdout), strings.TrimSpace(rest.Stdout))
	if asked < 100 || len(failures) > 0 {
		t.Errorf("%d of %d answers failed during the roll (want none of at least 100):\n%s", len(failures), asked, strings.Join(failures, "\n"))
	}
}
