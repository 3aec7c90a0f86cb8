package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/typed/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/deploy"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/validation"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/poll"
	"github.com/kfed-dev/kfed/pkg/store"
)

var (
	initLong = templates.LongDesc(i18n.T(`
		Create a federation in the host cluster.

		The host is the cluster of --context, or of the current context. init installs
		the kfed.dev CRDs there, creates the namespace kfed-system and a Federation
		object holding the federation's DNS domain and defaults, and the namespace
		kfed-dns, which will hold the members' DNS-reader credentials and nothing else,
		for coredns-fed to read. Nothing else runs in the host: its API server is the
		federation's only store.

		init is idempotent: running it again changes only what differs. One host may
		hold several federations.

		The name and the domain are part of every federated service's DNS name,
		<svc>.<namespace>.<federation>.svc.<domain>, so the name is a DNS label and the
		domain a DNS name of at least two labels, which its parent zone delegates to
		coredns-fed.`))

	initExample = templates.Examples(i18n.T(`
		# Create the federation magicring in the cluster of context usa
		kubectl fed init magicring --context usa --domain demo.example.com

		# The same, with the flags of the older kubefed tool
		kubectl fed init magicring --host-cluster-context=usa --dns-zone-name=demo.example.com

		# Bind members' manager identities to a narrower ClusterRole by default
		kubectl fed init magicring --domain demo.example.com --manager-cluster-role kfed-deployer`))
)

// InitOptions holds the flags of `kubectl fed init`.
type InitOptions struct {
	Name               string
	Domain             string
	DNSZoneName        string
	ManagerClusterRole string
	ClusterTimeout     time.Duration

	host *hostFlags
	genericiooptions.IOStreams
}

// NewInitOptions returns InitOptions writing to streams.
func NewInitOptions(host *hostFlags, streams genericiooptions.IOStreams) *InitOptions {
	return &InitOptions{host: host, IOStreams: streams}
}

// NewCmdInit returns `kubectl fed init`.
func NewCmdInit(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewInitOptions(host, streams)
	cmd := &cobra.Command{
		Use:                   "init NAME --domain DOMAIN",
		DisableFlagsInUseLine: true,
		Short:                 i18n.T("Create a federation in the host cluster"),
		Long:                  initLong,
		Example:               initExample,
		ValidArgsFunction:     cobra.NoFileCompletions,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	cmd.Flags().StringVar(&o.Domain, "domain", "", "The DNS domain of the federation, delegated to coredns-fed, such as demo.example.com.")
	cmd.Flags().StringVar(&o.DNSZoneName, "dns-zone-name", "", "Same as --domain, as the kubefed tool named it.")
	cmd.Flags().StringVar(&o.ManagerClusterRole, "manager-cluster-role", "",
		"The ClusterRole that join binds members' manager identities to unless told otherwise. Empty means kfed-manager, the least-privilege role join writes in each member.")
	cmd.Flags().DurationVar(&o.ClusterTimeout, "cluster-timeout", 0,
		"How long commands wait for one member before reporting it failed. 0 means 10s.")
	return cmd
}

// Complete takes the name from the arguments and folds the alias flags.
func (o *InitOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.host.complete(); err != nil {
		return err
	}
	if len(args) != 1 {
		return cmdutil.UsageErrorf(cmd, "init takes exactly one argument, the federation's name")
	}
	o.Name = args[0]
	if o.DNSZoneName != "" {
		if o.Domain != "" && o.Domain != o.DNSZoneName {
			return cmdutil.UsageErrorf(cmd, "--domain %q and --dns-zone-name %q disagree: give one of them", o.Domain, o.DNSZoneName)
		}
		o.Domain = o.DNSZoneName
	}
	if o.Domain == "" {
		return cmdutil.UsageErrorf(cmd, "--domain is required: the DNS domain the federation's services are answered under")
	}
	return nil
}

// Validate checks the name, the domain and the defaults.
func (o *InitOptions) Validate() error {
	if msgs := validation.FederationName(o.Name); len(msgs) > 0 {
		return fmt.Errorf("invalid federation name %q: %s", o.Name, strings.Join(msgs, "; "))
	}
	if msgs := validation.Domain(o.Domain); len(msgs) > 0 {
		return fmt.Errorf("invalid domain %q: %s", o.Domain, strings.Join(msgs, "; "))
	}
	if o.ClusterTimeout < 0 {
		return fmt.Errorf("--cluster-timeout must not be negative")
	}
	return nil
}

// Run installs the CRDs, the namespaces and the Federation, printing one
// line for each, as kubectl apply does.
func (o *InitOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := o.host.store()
	if err != nil {
		return err
	}
	o.warnIfMemberElsewhere(ctx, s)
	ext, err := apiextensionsclient.NewForConfig(s.Config)
	if err != nil {
		return err
	}
	crds, err := deploy.CRDs()
	if err != nil {
		return err
	}
	for _, crd := range crds {
		result, err := applyCRD(ctx, ext.CustomResourceDefinitions(), crd)
		if err != nil {
			return fmt.Errorf("installing CRD %s in the host (context %q): %w", crd.Name, o.host.contextName(), err)
		}
		fmt.Fprintf(o.Out, "customresourcedefinition.apiextensions.k8s.io/%s %s\n", crd.Name, result)
	}
	for _, crd := range crds {
		if err := waitEstablished(ctx, ext.CustomResourceDefinitions(), crd.Name); err != nil {
			return err
		}
	}

	result, err := ensureHostNamespace(ctx, s)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "namespace/%s %s\n", s.Namespace, result)
	result, err = s.EnsureDNSNamespace(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "namespace/%s %s\n", s.DNSNamespace, result)

	want := v1alpha1.FederationSpec{Domain: validation.NormalizeDomain(o.Domain)}
	want.Defaults.ManagerClusterRole = o.ManagerClusterRole
	if o.ClusterTimeout > 0 {
		want.Defaults.ClusterTimeout = &metav1.Duration{Duration: o.ClusterTimeout}
	}
	result, err = o.ensureFederation(ctx, s, want)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "federation.kfed.dev/%s %s\n", o.Name, result)
	return nil
}

// warnIfMemberElsewhere warns when the cluster init makes a host is a
// member of a federation another cluster hosts: it would then take part in
// two federations, whose placements and deletes both reach it. A host that
// is a member of its own federations is usual and not warned about.
func (o *InitOptions) warnIfMemberElsewhere(ctx context.Context, s *store.Store) {
	m, err := membership.ReadMembership(ctx, s.Kube.CoreV1().ConfigMaps(v1alpha1.Namespace))
	if err != nil {
		fmt.Fprintf(o.ErrOut, "Warning: could not tell whether this cluster is a member of another federation: %v\n", err)
		return
	}
	if m == nil {
		return
	}
	id, err := store.ClusterID(ctx, s.Kube.CoreV1().Namespaces())
	if err != nil || id == m.HostID {
		return
	}
	fmt.Fprintf(o.ErrOut, "Warning: this cluster is already a member of federation %q, as %q, hosted by the cluster at %s. "+
		"As the host of %q too, it would take part in two federations, and each would place objects in it and may delete them. "+
		"If that is not intended, unjoin it first: kubectl fed unjoin %s --federation %s (run against that host).\n",
		m.Federation, m.Cluster, m.HostServer, o.Name, m.Cluster, m.Federation)
}

func (o *InitOptions) ensureFederation(ctx context.Context, s *store.Store, spec v1alpha1.FederationSpec) (string, error) {
	cur, err := s.Federations.Get(ctx, o.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		f := &v1alpha1.Federation{
			ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: s.Namespace, Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedBy}},
			Spec:       spec,
		}
		if _, err := s.Federations.Create(ctx, f, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return "", fmt.Errorf("creating federation %q: %w", o.Name, err)
		}
		return "created", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading federation %q: %w", o.Name, err)
	}
	if apiequality.Semantic.DeepEqual(cur.Spec, spec) {
		return "unchanged", nil
	}
	cur.Spec = spec
	if _, err := s.Federations.Update(ctx, cur, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
		return "", fmt.Errorf("updating federation %q: %w", o.Name, err)
	}
	return "configured", nil
}

// applyCRD installs or upgrades a CRD with server-side apply and says which
// it did. kfed owns its CRDs, so it takes over fields others changed.
func applyCRD(ctx context.Context, client apiextensionsclient.CustomResourceDefinitionInterface, crd *apiextensionsv1.CustomResourceDefinition) (string, error) {
	before, err := client.Get(ctx, crd.Name, metav1.GetOptions{})
	existed := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return "", err
	}
	crd = crd.DeepCopy()
	crd.APIVersion, crd.Kind = apiextensionsv1.SchemeGroupVersion.String(), "CustomResourceDefinition"
	if crd.Labels == nil {
		crd.Labels = map[string]string{}
	}
	crd.Labels[v1alpha1.LabelManagedBy] = v1alpha1.ManagedBy
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
	if err != nil {
		return "", err
	}
	// Apply only what kfed means to own: no status, no server-set fields.
	delete(obj, "status")
	unstructured.RemoveNestedField(obj, "metadata", "creationTimestamp")
	body, err := json.Marshal(obj)
	if err != nil {
		return "", err
	}
	force := true
	after, err := client.Patch(ctx, crd.Name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: v1alpha1.FieldManager, Force: &force})
	if err != nil {
		return "", err
	}
	switch {
	case !existed:
		return "created", nil
	case before.ResourceVersion == after.ResourceVersion:
		return "unchanged", nil
	}
	return "configured", nil
}

func waitEstablished(ctx context.Context, client apiextensionsclient.CustomResourceDefinitionInterface, name string) error {
	err := poll.Until(ctx, 100*time.Millisecond, 30*time.Second, func(ctx context.Context) (bool, error) {
		crd, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("CRD %s did not become established: %w", name, err)
	}
	return nil
}

// ensureHostNamespace creates kfed-system in the host. A namespace that a
// join made when this cluster was only a member now holds the federation:
// it is released from the membership, so that unjoining the cluster later
// cannot take it with it.
func ensureHostNamespace(ctx context.Context, s *store.Store) (string, error) {
	return s.EnsureNamespace(ctx, s.Namespace, func(ns *corev1.Namespace) bool {
		var refs []metav1.OwnerReference
		for _, r := range ns.OwnerReferences {
			if !(r.Kind == "ClusterRoleBinding" && r.Name == membership.ManagerClusterRoleBinding) {
				refs = append(refs, r)
			}
		}
		if len(refs) == len(ns.OwnerReferences) && ns.Labels[v1alpha1.LabelComponent] != v1alpha1.ComponentMembership {
			return false
		}
		ns.OwnerReferences = refs
		delete(ns.Labels, v1alpha1.LabelComponent)
		return true
	})
}
