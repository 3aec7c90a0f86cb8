package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"
)

var (
	statusLong = templates.LongDesc(i18n.T(`
		Show the federation in one screen, and what needs action.

		The members table shows, for each member, whether its API server answers
		kfed's identities and how fast (LATENCY is the round trip of a version
		request), when the first of its tokens expires, and the federated objects
		the inventory has placed there, those still pending there (writes or
		deletions left unfinished, objects not yet written to a newly joined
		member, objects it would take out), and those that drifted: edited or
		deleted in the member behind kfed's back, as kubectl fed diff shows them.
		Finding drift costs a server-side dry run per object and member;
		--drift=false leaves it out.

		The servers table shows every coredns-fed server: the load-balancer
		addresses of the coredns-fed Services in the host and the members, or
		those given with --server. Each is asked for the zone's SOA. coredns-fed
		answers SERVFAIL until it has synced with the host and the members, so
		SYNCED says whether it has. The SOA serial is the Federation's creation
		time, the same for every server of the federation: a server with another
		serial, or another SOA than the others, reads another Federation or runs
		another Corefile, and is stale.

		LAST SYNC is how long ago the server's pods last knew the host and every
		member to be current, for the pod and the cluster that are furthest
		behind: under a second while coredns-fed reaches every API server. It is
		read from the pods' metrics through each cluster's pod proxy, with your
		own credentials (get on pods/proxy in kfed-system): the host's through
		your current context, a member's through the kubeconfig context named
		like the member, or the one --member-context names. A pod further
		behind than --sync-warning needs action.

		Every problem is listed under "Needs action" with the command that fixes
		it. The exit status is 0 when nothing needs action and 1 otherwise, so
		that scripts can use it; -o json and -o yaml print the same findings for
		them.`))

	statusExample = templates.Examples(i18n.T(`
		# Show the federation of the host usa
		kubectl fed status --context usa

		# The same, for a script
		kubectl fed status -o json

		# Only whether something needs action
		kubectl fed status >/dev/null 2>&1 || echo "the federation needs attention"`))
)

// StatusOptions holds the flags of `kubectl fed status`.
type StatusOptions struct {
	Federation string
	Servers    []string
	Timeout    time.Duration
	DNSTimeout time.Duration
	Drift      bool
	Output     string
	// ExpiryWarning is how close to its expiry a token needs action,
	// when no refresh took it further away.
	ExpiryWarning time.Duration
	// SyncWarning is how old a coredns-fed pod's last sync may be before
	// it needs action.
	SyncWarning time.Duration

	// now is the clock token expiry is measured against.
	now func() time.Time

	host *hostFlags
	genericiooptions.IOStreams
}

// NewStatusOptions returns StatusOptions writing to streams.
func NewStatusOptions(host *hostFlags, streams genericiooptions.IOStreams) *StatusOptions {
	return &StatusOptions{
		DNSTimeout:    2 * time.Second,
		Drift:         true,
		ExpiryWarning: 24 * time.Hour,
		SyncWarning:   time.Minute,
		now:           time.Now,
		host:          host,
		IOStreams:     streams,
	}
}

// NewCmdStatus returns `kubectl fed status`.
func NewCmdStatus(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewStatusOptions(host, streams)
	cmd := &cobra.Command{
		Use:                   "status [-o json|yaml]",
		DisableFlagsInUseLine: true,
		Short:                 i18n.T("Show the members, the DNS servers and what needs action"),
		Long:                  statusLong,
		Example:               statusExample,
		Args:                  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	addFederationFlag(cmd, host, &o.Federation)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format. One of: (json, yaml). The default is the tables and the list of what needs action.")
	cmd.Flags().StringSliceVar(&o.Servers, "server", nil, "A coredns-fed server to ask, as ADDRESS or ADDRESS:PORT; repeat for each. By default, the addresses of the coredns-fed Services in the host and the members.")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "How long to wait for each member. 0 means the federation's default, 10s unless init set another.")
	cmd.Flags().DurationVar(&o.DNSTimeout, "dns-timeout", o.DNSTimeout, "How long to wait for each coredns-fed server's answer, and for each coredns-fed pod's metrics (its last sync).")
	cmd.Flags().BoolVar(&o.Drift, "drift", o.Drift, "Compare every placed object with its member to find drift, as kubectl fed diff does.")
	cmd.Flags().DurationVar(&o.ExpiryWarning, "expiry-warning", o.ExpiryWarning, "A token that expires sooner than this needs action.")
	cmd.Flags().DurationVar(&o.SyncWarning, "sync-warning", o.SyncWarning, "A coredns-fed pod that last synced with the host or a member longer ago than this needs action.")
	host.addMemberContextFlag(cmd, &o.Federation)
	return cmd
}

// Complete reads the host's flags.
func (o *StatusOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.host.complete(); err != nil {
		return err
	}
	for i, srv := range o.Servers {
		o.Servers[i] = withPort(srv, "53")
	}
	return nil
}

// Validate checks the flags.
func (o *StatusOptions) Validate() error {
	switch o.Output {
	case "", "json", "yaml":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,yaml", o.Output)
	}
	if o.Timeout < 0 {
		return errors.New("--timeout must not be negative")
	}
	if o.DNSTimeout <= 0 {
		return errors.New("--dns-timeout must be positive")
	}
	if o.ExpiryWarning < 0 {
		return errors.New("--expiry-warning must not be negative")
	}
	if o.SyncWarning <= 0 {
		return errors.New("--sync-warning must be positive")
	}
	return nil
}

// errNeedsAction reports, through the exit status, that something needs
// action; the output has said what.
type errNeedsAction struct {
	n          int
	federation string
}

func (e errNeedsAction) Error() string {
	if e.n == 1 {
		return fmt.Sprintf("1 problem in federation %s needs action", e.federation)
	}
	return fmt.Sprintf("%d problems in federation %s need action", e.n, e.federation)
}

// Run gathers the federation's state, prints it, and fails when something
// needs action.
func (o *StatusOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	fs, err := openSession(ctx, o.host, o.Federation, o.Timeout)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(fs.targets))
	for _, t := range fs.targets {
		names = append(names, t.Name())
	}
	if err := o.host.checkMemberContexts(names); err != nil {
		return err
	}
	st := &FederationStatus{Federation: fs.federation.Name, Domain: fs.federation.Spec.Domain}
	now := o.now()
	members, err := o.members(ctx, fs, now)
	if err != nil {
		return err
	}
	st.Members = members
	servers, note := o.servers(ctx, fs)
	st.Servers, st.DNSNote = servers, note
	st.Problems = evaluate(st, fs.federation.Serial(), now, o.ExpiryWarning, o.SyncWarning)
	if o.Output == "" {
		warnSyncs(o.ErrOut, st.Servers)
	}

	if err := o.print(st, now); err != nil {
		return err
	}
	if len(st.Problems) > 0 {
		return errNeedsAction{n: len(st.Problems), federation: st.Federation}
	}
	return nil
}

func (o *StatusOptions) print(st *FederationStatus, now time.Time) error {
	switch o.Output {
	case "json":
		b, err := json.MarshalIndent(st, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(st)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	}
	return printStatus(o.Out, st, now)
}
