package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/dnssec"
	"github.com/kfed-dev/kfed/pkg/store"
)

var (
	dnsRotateKeyLong = templates.LongDesc(i18n.T(`
		Replace the zone's signing key (ZSK) by pre-publication, without a moment in
		which a validating resolver could fail to validate an answer.

		The roll has three steps. First the new key is published beside the old one,
		signing nothing; once every server serves it, resolvers may still hold the
		old DNSKEY records for their TTL, so rotate-key waits for that TTL and
		--safety. Then the new key signs and the old one is retired, still
		published; once every server signs with the new key, resolvers may still
		hold answers signed with the old one, for the longest TTL of the zone, so
		rotate-key waits that long and --safety again. Then the old key is removed.

		Each step is written into the key set, in the host's Secret
		kfed-dns/coredns-fed-dnssec, before it is waited for: an interrupted
		rotate-key run again goes on from where it stopped, and waits only what is
		left. kubectl fed dns check shows the phase. With --wait=false, rotate-key
		takes the step that is due, if any, and returns.

		The key-signing key, whose DS the parent zone holds, is not rolled.`))

	dnsRotateKeyExample = templates.Examples(i18n.T(`
		# Roll the ZSK, waiting through every step
		kubectl fed dns rotate-key

		# Take one step at a time, from a job that runs every few minutes
		kubectl fed dns rotate-key --wait=false`))
)

// DNSRotateKeyOptions holds the flags of `kubectl fed dns rotate-key`.
type DNSRotateKeyOptions struct {
	Wait bool
	// Safety is added to every wait.
	Safety time.Duration
	// Timeout bounds the wait for every server to serve a step.
	Timeout time.Duration

	// check finds and asks the servers.
	check *DNSCheckOptions
	store *store.Store
	// poll is how often the servers are asked while a step propagates.
	poll time.Duration
	now  func() time.Time
	genericiooptions.IOStreams
}

// NewCmdDNSRotateKey returns `kubectl fed dns rotate-key`.
func NewCmdDNSRotateKey(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DNSRotateKeyOptions{Wait: true, Safety: time.Minute, Timeout: 10 * time.Minute,
		check: NewDNSCheckOptions(host, streams), poll: time.Second, now: time.Now, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "rotate-key",
		Short:   i18n.T("Roll the zone's signing key by pre-publication"),
		Long:    dnsRotateKeyLong,
		Example: dnsRotateKeyExample,
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	addFederationFlag(cmd, host, &o.check.Federation)
	cmd.Flags().StringSliceVar(&o.check.Servers, "server", nil, "A coredns-fed server that must serve each step before it is waited for, as ADDRESS or ADDRESS:PORT; repeat for each. By default, the addresses of the coredns-fed Services in the host and the members.")
	cmd.Flags().BoolVar(&o.Wait, "wait", o.Wait, "Wait through every step of the roll; with --wait=false, take the step that is due and return.")
	cmd.Flags().DurationVar(&o.Safety, "safety", o.Safety, "Added to each wait that the zone's TTLs give, for resolvers whose clocks or caches count loosely.")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for every server to serve a step: a server that does not is named.")
	return cmd
}

// Complete finds the servers and reads the key set's host.
func (o *DNSRotateKeyOptions) Complete(cmd *cobra.Command) error {
	if err := o.check.Complete(cmd); err != nil {
		return err
	}
	s, err := o.check.host.store()
	if err != nil {
		return err
	}
	o.store = s
	return nil
}

// Validate checks the flags and that the zone is signed.
func (o *DNSRotateKeyOptions) Validate() error {
	if o.Safety < 0 || o.Timeout <= 0 {
		return errors.New("--safety must not be negative, and --timeout must be positive")
	}
	if o.check.keysErr != nil {
		return o.check.keysErr
	}
	if o.check.keys == nil {
		return fmt.Errorf("the zone %s is not signed (no Secret %s/%s): sign it with kubectl fed dns install --dnssec", o.check.domain, v1alpha1.DNSNamespace, dnssec.SecretName)
	}
	return nil
}

// Run takes the roll's steps, waiting between them with --wait.
func (o *DNSRotateKeyOptions) Run(ctx context.Context) error {
	ks := o.check.keys
	timing, err := o.timing(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "Waits: %s after the new key is published (DNSKEY TTL %s + safety), %s after it signs (longest TTL %s + safety)\n",
		timing.PublishWait(), timing.KeyTTL, timing.RetireWait(), timing.MaxTTL)
	for {
		r := ks.set.Rollover
		switch {
		case r == nil:
			next, err := dnssec.NewKey(dnssec.RoleZSK, zskAlgorithm(ks.set), dnssec.StatePublished, o.now(), ks.set.Tags())
			if err != nil {
				return err
			}
			if err := ks.set.StartRoll(next, o.now(), timing); err != nil {
				return err
			}
			if err := o.write(ctx, ks); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "Published ZSK %d beside ZSK %d, signing nothing yet\n", next.Tag, ks.set.Rollover.Old)
			continue
		case r.Seen.IsZero():
			if err := o.waitServed(ctx, r); err != nil {
				return err
			}
			r.Seen = o.now().UTC()
			if err := o.write(ctx, ks); err != nil {
				return err
			}
			continue
		}
		if wait := r.Due().Sub(o.now()); wait > 0 {
			if !o.Wait {
				fmt.Fprintf(o.Out, "The roll from ZSK %d to %d is in phase %s; its next step is due at %s (run rotate-key again then)\n", r.Old, r.New, r.Phase, r.Due().UTC().Format(time.RFC3339))
				return nil
			}
			fmt.Fprintf(o.Out, "Waiting %s, until %s, for resolvers' caches (interrupt and run rotate-key again to resume)\n", wait.Round(time.Second), r.Due().UTC().Format(time.RFC3339))
			if err := sleep(ctx, wait); err != nil {
				return err
			}
		}
		done, err := ks.set.Advance(o.now(), timing)
		if err != nil {
			return err
		}
		if err := o.write(ctx, ks); err != nil {
			return err
		}
		if done {
			fmt.Fprintf(o.Out, "Removed ZSK %d: the roll is done, ZSK %d signs\n", r.Old, r.New)
			return nil
		}
		fmt.Fprintf(o.Out, "ZSK %d signs now; ZSK %d is retired, still published\n", r.New, r.Old)
		if !o.Wait {
			return nil
		}
	}
}

// write saves the key set; a conflict names what to do.
func (o *DNSRotateKeyOptions) write(ctx context.Context, ks *keySetSecret) error {
	err := writeKeySet(ctx, o.store, ks)
	if apierrors.IsConflict(err) {
		return fmt.Errorf("the key set changed while rotate-key ran (another rotate-key, or an install?): run rotate-key again, which goes on from the key set's phase: %w", err)
	}
	return err
}

// waitServed waits until every server serves the roll's phase: the new
// key in its DNSKEY RRset once published, the new key's signature on the
// SOA once active.
func (o *DNSRotateKeyOptions) waitServed(ctx context.Context, r *dnssec.Rollover) error {
	what := fmt.Sprintf("publish ZSK %d", r.New)
	if r.Phase == dnssec.PhaseActive {
		what = fmt.Sprintf("sign with ZSK %d", r.New)
	}
	fmt.Fprintf(o.Out, "Waiting for %d server(s) to %s\n", len(o.check.Servers), what)
	deadline := o.now().Add(o.Timeout)
	for {
		var behind []string
		for _, server := range o.check.Servers {
			if ok, why := o.serves(server, r); !ok {
				behind = append(behind, server+" ("+why+")")
			}
		}
		if len(behind) == 0 {
			return nil
		}
		if o.now().After(deadline) {
			return fmt.Errorf("after %s, %d server(s) do not %s: %v; check their logs, fix them, and run rotate-key again to go on", o.Timeout, len(behind), what, behind)
		}
		if err := sleep(ctx, o.poll); err != nil {
			return err
		}
	}
}

// serves reports whether server serves the phase of r, and else why not.
func (o *DNSRotateKeyOptions) serves(server string, r *dnssec.Rollover) (bool, string) {
	qtype := dns.TypeDNSKEY
	if r.Phase == dnssec.PhaseActive {
		qtype = dns.TypeSOA
	}
	m, err := o.check.exchange(server, o.check.domain, qtype, true)
	if err != nil {
		return false, err.Error()
	}
	var tags []uint16
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.DNSKEY:
			tags = append(tags, rr.KeyTag())
		case *dns.RRSIG:
			tags = append(tags, rr.KeyTag)
		}
	}
	if slices.Contains(tags, r.New) {
		return true, ""
	}
	return false, fmt.Sprintf("it answers with keys %v", tags)
}

// timing derives the roll's waits from the TTLs the first server answers
// with: the DNSKEY RRset's, and the longest of any RRset of the zone.
func (o *DNSRotateKeyOptions) timing(ctx context.Context) (dnssec.Timing, error) {
	t := dnssec.Timing{Safety: o.Safety}
	var maxTTL uint32
	server := o.check.Servers[0]
	for _, qtype := range []uint16{dns.TypeDNSKEY, dns.TypeSOA, dns.TypeNS} {
		m, err := o.check.exchange(server, o.check.domain, qtype, true)
		if err != nil {
			return t, fmt.Errorf("asking %s for the zone's TTLs: %w", server, err)
		}
		for _, rr := range m.Answer {
			h := rr.Header()
			maxTTL = max(maxTTL, h.Ttl)
			if h.Rrtype == dns.TypeDNSKEY {
				t.KeyTTL = time.Duration(h.Ttl) * time.Second
			}
			if soa, ok := rr.(*dns.SOA); ok {
				maxTTL = max(maxTTL, soa.Minttl)
			}
		}
	}
	if t.KeyTTL == 0 {
		return t, fmt.Errorf("%s serves no DNSKEY records for %s: is the zone signed there (kubectl fed dns check)?", server, o.check.domain)
	}
	// Answers' TTLs are at most an hour (install's --ttl), and the zone's
	// own records' at least as long as any of them in a default install;
	// an hour bounds them all.
	t.MaxTTL = max(time.Duration(maxTTL)*time.Second, o.answerTTL(ctx))
	return t, nil
}

// zskAlgorithm is the algorithm of the set's active ZSK, which the new key
// keeps: a change of algorithm is another roll (RFC 6781, 4.1.4).
func zskAlgorithm(ks *dnssec.KeySet) uint8 {
	for _, k := range ks.Signing(dnssec.RoleZSK) {
		if pub, _, err := k.Parse(); err == nil {
			return pub.Algorithm
		}
	}
	return dns.ECDSAP256SHA256
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// answerTTL is the TTL of the zone's answers, from the fed block of the
// host's Corefile (install's --ttl); an hour, the most install sets, when
// it cannot be read.
func (o *DNSRotateKeyOptions) answerTTL(ctx context.Context) time.Duration {
	cm, err := o.store.Kube.CoreV1().ConfigMaps(v1alpha1.Namespace).Get(ctx, corednsFedName, metav1.GetOptions{})
	if err != nil {
		fmt.Fprintf(o.ErrOut, "Warning: cannot read the Corefile, ConfigMap %s/%s (%v): taking the answers' TTL to be an hour\n", v1alpha1.Namespace, corednsFedName, err)
		return time.Hour
	}
	ttl := defaultDNSTTL
	for line := range strings.SplitSeq(cm.Data["Corefile"], "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "ttl" {
			if n, err := strconv.Atoi(f[1]); err == nil {
				ttl = n
			}
		}
	}
	return time.Duration(ttl) * time.Second
}
