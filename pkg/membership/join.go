package membership

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/validation"
	"github.com/kfed-dev/kfed/pkg/geo"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/pkg/topology"
)

// RollbackBudget is how long a failed join keeps trying to undo its changes
// on a side that stopped answering.
const RollbackBudget = time.Minute

// proofWait bounds the wait for a new token and its roles to be honoured by
// every API server of the member.
const proofWait = 20 * time.Second

// Join joins one cluster to a federation.
type Join struct {
	// Host is the federation's store and Federation the federation.
	Host       *store.Store
	Federation *v1alpha1.Federation
	// Name is the member's name in the federation.
	Name string
	// Member is how the user reaches the member.
	Member *MemberAccess

	// Region and Zone override what the member's nodes say.
	Region, Zone string
	// Location overrides the built-in table of cloud regions.
	Location *v1alpha1.Location
	// Labels are set on the Cluster, for placement.
	Labels map[string]string
	// ManagerClusterRole overrides the federation's default: the role
	// kfed writes (ManagerClusterRole) or one of the operator's own.
	ManagerClusterRole string
	// ManagerNamespaces, when set, are the only namespaces the manager may
	// write; it goes with an empty ManagerClusterRole.
	ManagerNamespaces []string

	// Force takes over a member of another federation.
	Force bool
	// Rotate issues new tokens even when the current ones work.
	Rotate bool
	// TokenLifetime is how long new tokens last; 0 means
	// DefaultTokenLifetime. A current token issued for another lifetime is
	// replaced when this is set.
	TokenLifetime time.Duration

	// Warnf reports what the user should know but that does not stop the
	// join.
	Warnf func(format string, args ...any)
}

// Action says what a join did.
type Action string

// The outcomes of a join.
const (
	Joined    Action = "joined"
	Unchanged Action = "unchanged"
	Repaired  Action = "repaired"
	Rotated   Action = "rotated"
	TakenOver Action = "taken over"
)

// Result describes a successful join.
type Result struct {
	Action  Action
	Cluster *v1alpha1.Cluster
	// Changes lists what was created or changed, as kubectl names objects.
	Changes []string
	// Topology is what the nodes said, when they were asked.
	Topology *topology.Topology
	// LocationSource says where the coordinates came from.
	LocationSource string
	// Manager is what the manager identity was granted.
	Manager ManagerGrant
}

// joinRun is the state of one join.
type joinRun struct {
	*Join
	fed      string
	member   kubernetes.Interface
	memberID string
	hostID   string

	existing *v1alpha1.Cluster   // this name in the host, if any
	marker   *corev1.ConfigMap   // the member's membership marker, if any
	takeover bool                // the member belongs to another federation or name
	stale    []*v1alpha1.Cluster // Clusters in this host for the same member under another name or federation

	grant   ManagerGrant
	roles   map[string][]rbacv1.PolicyRule // kfed's ClusterRoles for the grant, by name
	cluster v1alpha1.ClusterSpec
	topo    *topology.Topology
	locFrom string
	j       journal
	tokens  map[string]token
}

// Run performs the join. Nothing is written until every check passed; if
// any write fails, everything written is undone.
func (j *Join) Run(ctx context.Context) (*Result, error) {
	if j.Warnf == nil {
		j.Warnf = func(string, ...any) {}
	}
	// What join stores would be refused when read back, and would give
	// the tokens away before that: refuse it before anything is written.
	what := fmt.Sprintf("the member's context %q", j.Member.Context)
	if err := CheckTransport(what, j.Member.Connection.Server, j.Member.Connection.InsecureSkipTLSVerify,
		"give the member's https:// address (--cluster-server) and its CA (certificate-authority-data in the context)"); err != nil {
		return nil, err
	}
	member, err := kubernetes.NewForConfig(j.Member.Config)
	if err != nil {
		return nil, err
	}
	r := &joinRun{Join: j, fed: j.Federation.Name, member: member, tokens: map[string]token{}}
	if err := r.preflight(ctx); err != nil {
		return nil, err
	}
	res, err := r.apply(ctx)
	if err != nil {
		left, errs := r.j.rollback(RollbackBudget)
		return nil, &errRolledBack{cause: err, left: left, errs: errs}
	}
	r.commit(ctx)
	r.dropStaleGrants(ctx)
	return res, nil
}

// preflight reads both sides and decides, before anything is written,
// whether the join may go ahead and with what.
func (r *joinRun) preflight(ctx context.Context) error {
	var err error
	if r.memberID, err = store.ClusterID(ctx, r.member.CoreV1().Namespaces()); err != nil {
		return fmt.Errorf("cannot reach the member through context %q (%s): %w", r.Member.Context, r.Member.Config.Host, err)
	}
	if r.hostID, err = store.ClusterID(ctx, r.Host.Kube.CoreV1().Namespaces()); err != nil {
		return fmt.Errorf("cannot read the host cluster: %w", err)
	}

	// The name, and the member, as the host knows them.
	all, err := r.Host.Clusters.List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing the host's clusters: %w", err)
	}
	for i := range all.Items {
		c := &all.Items[i]
		switch {
		case c.Name == r.Name && c.Spec.ClusterID != r.memberID:
			return fmt.Errorf("cluster name %q is already taken in federation %q by another cluster (%s): choose another name, or unjoin that cluster first",
				r.Name, c.Spec.Federation, c.Spec.Server)
		case c.Name == r.Name && c.Spec.Federation == r.fed:
			r.existing = c
		case c.Spec.ClusterID == r.memberID:
			// The same member, under another name or in another federation
			// of this host.
			if !r.Force {
				return fmt.Errorf("the cluster of context %q is already a member of federation %q as %q: unjoin it first, or use --force to take it over",
					r.Member.Context, c.Spec.Federation, c.Name)
			}
			r.stale = append(r.stale, c)
			r.takeover = true
		}
	}

	// The member's own record of its membership.
	r.marker, err = r.member.CoreV1().ConfigMaps(v1alpha1.Namespace).Get(ctx, MembershipConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r.marker, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("reading the member's membership: %w", err)
	}
	if m := r.marker; m != nil {
		fed, name, host := m.Data[keyFederation], m.Data[keyCluster], m.Data[keyHostID]
		if fed != r.fed || name != r.Name || host != r.hostID {
			if !r.Force {
				where := "this host"
				if host != r.hostID {
					where = fmt.Sprintf("the host at %s", m.Data[keyHostServer])
				}
				return fmt.Errorf("the cluster of context %q already belongs to federation %q, as %q, in %s: use --force to take it over",
					r.Member.Context, fed, name, where)
			}
			r.takeover = true
			if host != r.hostID {
				r.Warnf("federation %q in the host at %s still lists this cluster as %q; its credentials stop working now", fed, m.Data[keyHostServer], name)
			}
		}
	}

	// Every kfed object of a fixed name must be kfed's own.
	if err := r.checkNotForeign(ctx); err != nil {
		return err
	}

	if err := r.planGrant(ctx); err != nil {
		return err
	}
	if err := r.checkGrantNotForeign(ctx); err != nil {
		return err
	}
	return r.planSpec(ctx)
}

// checkNotForeign refuses to overwrite objects of the names join uses that
// someone else made.
func (r *joinRun) checkNotForeign(ctx context.Context) error {
	check := func(what string, obj metav1.Object, err error) error {
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s in the member: %w", what, err)
		}
		if !isOurs(obj) {
			return fmt.Errorf("%s already exists in the member and was not made by kubectl-fed (no %s=%s label): remove or rename it first",
				what, v1alpha1.LabelManagedBy, v1alpha1.ManagedBy)
		}
		return nil
	}
	for _, name := range []string{ManagerServiceAccount, DNSReaderServiceAccount} {
		sa, err := r.member.CoreV1().ServiceAccounts(v1alpha1.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err := check("serviceaccount "+v1alpha1.Namespace+"/"+name, sa, err); err != nil {
			return err
		}
	}
	cr, err := r.member.RbacV1().ClusterRoles().Get(ctx, DNSReaderClusterRole, metav1.GetOptions{})
	if err := check("clusterrole "+DNSReaderClusterRole, cr, err); err != nil {
		return err
	}
	for _, name := range []string{ManagerClusterRoleBinding, DNSReaderClusterRoleBinding} {
		crb, err := r.member.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{})
		if err := check("clusterrolebinding "+name, crb, err); err != nil {
			return err
		}
	}
	if r.marker != nil {
		if err := check("configmap "+v1alpha1.Namespace+"/"+MembershipConfigMap, r.marker, nil); err != nil {
			return err
		}
	}
	for _, id := range []string{v1alpha1.IdentityManager, v1alpha1.IdentityDNSReader} {
		name, ns := store.CredentialSecretName(r.Name, id), r.Host.CredentialNamespace(id)
		s, err := r.Host.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading secret %s/%s in the host: %w", ns, name, err)
		}
		if s.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedBy {
			return fmt.Errorf("secret %s/%s already exists in the host and was not made by kubectl-fed: remove or rename it first", ns, name)
		}
	}
	return nil
}

// planSpec decides the Cluster's spec: topology, location and labels from
// the flags, the existing Cluster, the nodes and the table of regions.
func (r *joinRun) planSpec(ctx context.Context) error {
	spec := v1alpha1.ClusterSpec{
		Federation:         r.fed,
		Server:             r.Member.Connection.Server,
		ClusterID:          r.memberID,
		ManagerClusterRole: r.grant.ClusterRole,
		ManagerNamespaces:  r.grant.Namespaces,
		Credentials: v1alpha1.ClusterCredentials{
			Manager:   v1alpha1.SecretReference{Name: store.CredentialSecretName(r.Name, v1alpha1.IdentityManager)},
			DNSReader: v1alpha1.SecretReference{Name: store.CredentialSecretName(r.Name, v1alpha1.IdentityDNSReader)},
		},
	}
	// A re-run keeps what the first join decided unless told otherwise.
	if e := r.existing; e != nil {
		spec.Region, spec.Zone, spec.Location = e.Spec.Region, e.Spec.Zone, e.Spec.Location
	}
	if r.Region != "" {
		spec.Region = r.Region
	}
	if r.Zone != "" {
		spec.Zone = r.Zone
	}
	if spec.Region == "" || spec.Zone == "" {
		nodes, err := r.member.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("reading the member's nodes for their topology (or give --region and --zone): %w", err)
		}
		t := topology.FromNodes(nodes.Items)
		r.topo = &t
		if spec.Region == "" {
			spec.Region = t.Region
		}
		if spec.Zone == "" && spec.Region == t.Region {
			spec.Zone = t.Zone
		}
		if spec.Region == "" {
			r.Warnf("none of the member's %d nodes has the label %s: the cluster has no region; give one with --region", t.Nodes, v1alpha1.LabelTopologyRegion)
		} else if spec.Zone == "" {
			r.Warnf("none of the member's nodes in region %s has the label %s: the cluster has no zone; give one with --zone", spec.Region, v1alpha1.LabelTopologyZone)
		}
	}
	for flag, v := range map[string]string{"region": spec.Region, "zone": spec.Zone} {
		if v == "" {
			continue
		}
		if msgs := validation.Topology(v); len(msgs) > 0 {
			return fmt.Errorf("%s %q cannot be used: %s (it is part of DNS names); give another with --%s", flag, v, strings.Join(msgs, "; "), flag)
		}
	}
	switch {
	case r.Location != nil:
		spec.Location, r.locFrom = r.Location, "flags"
	case spec.Location != nil && (r.Region == "" || r.Region == r.existing.Spec.Region):
		r.locFrom = "the existing Cluster"
	case spec.Region != "":
		spec.Location = nil
		if g, ok := geo.Lookup(spec.Region); ok {
			spec.Location = v1alpha1.NewLocation(g.Latitude, g.Longitude)
			r.locFrom = fmt.Sprintf("%s region %s, %s", g.Provider, g.Name, g.Place)
		} else {
			r.Warnf("region %q is not a known AWS, Google Cloud or Azure region: the cluster has no coordinates; give them with --latitude and --longitude", spec.Region)
		}
	}
	r.cluster = spec
	return nil
}

// apply makes every change, recording how to undo it.
func (r *joinRun) apply(ctx context.Context) (*Result, error) {
	// Hosts initialised before the DNS readers' namespace existed lack it.
	// Like kfed-system, it is the host's, shared by every member, so a
	// failed join leaves it: taking it away could take another member's
	// credential with it.
	var changes []string
	result, err := r.Host.EnsureDNSNamespace(ctx)
	if err != nil {
		return nil, err
	}
	if result != "unchanged" {
		changes = append(changes, "namespace/"+r.Host.DNSNamespace)
	}
	if err := r.applyMember(ctx); err != nil {
		return nil, err
	}
	cluster, err := r.applyHost(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{Cluster: cluster, Changes: append(changes, r.j.changes()...), Topology: r.topo, LocationSource: r.locFrom, Manager: r.grant}
	switch {
	case r.existing == nil && !r.takeover:
		res.Action = Joined
	case r.takeover:
		res.Action = TakenOver
	case r.Rotate:
		res.Action = Rotated
	case len(res.Changes) == 0:
		res.Action = Unchanged
	default:
		res.Action = Repaired
	}
	return res, nil
}

// Identities lists kfed's identities in a stable order.
func Identities() []string {
	return []string{v1alpha1.IdentityManager, v1alpha1.IdentityDNSReader}
}
