package membership

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/validation"
	"github.com/kfed-dev/kfed/pkg/geo"
	"github.com/kfed-dev/kfed/pkg/member"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/pkg/topology"
)

// RollbackBudget is how long a failed join keeps trying to undo its changes
// on a side that stopped answering.
const RollbackBudget = time.Minute

// tokenWait bounds the wait for the member's token controller to fill a new
// token Secret, and proofWait the wait for a new token and its roles to be
// honoured by every API server of the member.
const (
	tokenWait = 30 * time.Second
	proofWait = 20 * time.Second
)

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
	// ManagerClusterRole overrides the federation's default.
	ManagerClusterRole string

	// Force takes over a member of another federation.
	Force bool
	// Rotate issues new tokens even when the current ones work.
	Rotate bool

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

	role     string
	cluster  v1alpha1.ClusterSpec
	topo     *topology.Topology
	locFrom  string
	j        journal
	supersed []string // token Secrets to delete once the join succeeded
	tokens   map[string]token
}

type token struct {
	secret string // token Secret's name in the member
	value  string
}

// Run performs the join. Nothing is written until every check passed; if
// any write fails, everything written is undone.
func (j *Join) Run(ctx context.Context) (*Result, error) {
	if j.Warnf == nil {
		j.Warnf = func(string, ...any) {}
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
	return res, nil
}

// preflight reads both sides and decides, before anything is written,
// whether the join may go ahead and with what.
func (r *joinRun) preflight(ctx context.Context) error {
	var err error
	if r.memberID, err = store.ClusterID(ctx, r.member); err != nil {
		return fmt.Errorf("cannot reach the member through context %q (%s): %w", r.Member.Context, r.Member.Config.Host, err)
	}
	if r.hostID, err = store.ClusterID(ctx, r.Host.Kube); err != nil {
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

	// The manager's role.
	r.role = r.ManagerClusterRole
	if r.role == "" {
		r.role = r.Federation.ManagerClusterRoleOrDefault()
	}
	if _, err := r.member.RbacV1().ClusterRoles().Get(ctx, r.role, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("ClusterRole %q does not exist in the member: create it, or choose another with --manager-cluster-role", r.role)
		}
		return fmt.Errorf("reading ClusterRole %q in the member: %w", r.role, err)
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
		name := store.CredentialSecretName(r.Name, id)
		s, err := r.Host.Kube.CoreV1().Secrets(r.Host.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading secret %s/%s in the host: %w", r.Host.Namespace, name, err)
		}
		if s.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedBy {
			return fmt.Errorf("secret %s/%s already exists in the host and was not made by kubectl-fed: remove or rename it first", r.Host.Namespace, name)
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
		ManagerClusterRole: r.role,
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
	if err := r.applyMember(ctx); err != nil {
		return nil, err
	}
	cluster, err := r.applyHost(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{Cluster: cluster, Changes: r.j.changes(), Topology: r.topo, LocationSource: r.locFrom}
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

func (r *joinRun) applyMember(ctx context.Context) error {
	ns, createdNS, err := r.ensureNamespace(ctx)
	if err != nil {
		return err
	}
	anchor, err := r.ensureManagerBinding(ctx)
	if err != nil {
		return err
	}
	if createdNS || isOurs(ns) {
		// Only a namespace join created goes with the membership; a host's
		// own namespace, or one the user made, stays.
		if err := r.ensureOwner(ctx, "namespace/"+ns.Name, ns, anchor, func(ctx context.Context, refs []metav1.OwnerReference) error {
			return patchOwners(ctx, r.member.CoreV1().RESTClient(), "namespaces", "", ns.Name, refs)
		}); err != nil {
			return err
		}
	}
	managerSA, err := r.ensureServiceAccount(ctx, ManagerServiceAccount, v1alpha1.IdentityManager, anchor)
	if err != nil {
		return err
	}
	readerSA, err := r.ensureServiceAccount(ctx, DNSReaderServiceAccount, v1alpha1.IdentityDNSReader, nil)
	if err != nil {
		return err
	}
	if err := r.ensureReaderRole(ctx); err != nil {
		return err
	}
	if err := r.ensureReaderBinding(ctx); err != nil {
		return err
	}
	for _, id := range []struct {
		identity string
		sa       *corev1.ServiceAccount
	}{{v1alpha1.IdentityManager, managerSA}, {v1alpha1.IdentityDNSReader, readerSA}} {
		if err := r.ensureToken(ctx, id.identity, id.sa); err != nil {
			return err
		}
	}
	return r.ensureMarker(ctx)
}

func (r *joinRun) ensureNamespace(ctx context.Context) (*corev1.Namespace, bool, error) {
	nsClient := r.member.CoreV1().Namespaces()
	ns, err := nsClient.Get(ctx, v1alpha1.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		ns, err = nsClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: v1alpha1.Namespace, Labels: memberLabels(r.fed),
		}}, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
		if err != nil {
			return nil, false, fmt.Errorf("creating namespace %s in the member: %w", v1alpha1.Namespace, err)
		}
		r.j.add("member", "namespace/"+v1alpha1.Namespace, func(ctx context.Context) error {
			return nsClient.Delete(ctx, v1alpha1.Namespace, metav1.DeleteOptions{})
		})
		return ns, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading namespace %s in the member: %w", v1alpha1.Namespace, err)
	}
	if ns.DeletionTimestamp != nil {
		return nil, false, fmt.Errorf("namespace %s in the member is being deleted, perhaps by an earlier unjoin: wait until it is gone and join again", v1alpha1.Namespace)
	}
	// A namespace join made for another federation changes hands on a takeover.
	if isOurs(ns) && ns.Labels[v1alpha1.LabelFederation] != r.fed {
		old := ns.DeepCopy()
		withLabels(ns, memberLabels(r.fed))
		if ns, err = nsClient.Update(ctx, ns, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return nil, false, fmt.Errorf("relabelling namespace %s in the member: %w", v1alpha1.Namespace, err)
		}
		r.j.add("member", "namespace/"+v1alpha1.Namespace+" (labels)", func(ctx context.Context) error {
			return restoreLabels(ctx, r.member.CoreV1().RESTClient(), "namespaces", "", old)
		})
	}
	return ns, false, nil
}

// ensureManagerBinding binds the manager to its role. The binding is the
// membership's anchor; a change of role replaces it without letting the
// garbage collector take what it owns.
func (r *joinRun) ensureManagerBinding(ctx context.Context) (*rbacv1.ClusterRoleBinding, error) {
	crbs := r.member.RbacV1().ClusterRoleBindings()
	want := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ManagerClusterRoleBinding, Labels: identityLabels(r.fed, v1alpha1.IdentityManager)},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: r.role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ManagerServiceAccount, Namespace: v1alpha1.Namespace}},
	}
	what := "clusterrolebinding/" + ManagerClusterRoleBinding
	cur, err := crbs.Get(ctx, want.Name, metav1.GetOptions{})
	if err == nil && cur.RoleRef == want.RoleRef && apiequality.Semantic.DeepEqual(cur.Subjects, want.Subjects) && hasLabels(cur, want.Labels) {
		return cur, nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading %s in the member: %w", what, err)
	}
	if err == nil {
		// roleRef cannot change in place. Orphan what the old binding
		// owns; ensureOwner gives it to the new one.
		old := cur.DeepCopy()
		orphan := metav1.DeletePropagationOrphan
		if err := crbs.Delete(ctx, cur.Name, metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil {
			return nil, fmt.Errorf("replacing %s in the member: %w", what, err)
		}
		// The garbage collector releases what the binding owned before the
		// binding goes; only then can the name be used again.
		if err := waitGone(ctx, func(ctx context.Context) error {
			_, err := crbs.Get(ctx, cur.Name, metav1.GetOptions{})
			return err
		}); err != nil {
			return nil, fmt.Errorf("replacing %s in the member: %w", what, err)
		}
		r.j.add("member", what+" (role "+old.RoleRef.Name+")", func(ctx context.Context) error {
			// Put the old binding back; what it owned keeps the new
			// owner's reference, which the old one's absence makes moot.
			_ = crbs.Delete(ctx, old.Name, metav1.DeleteOptions{PropagationPolicy: &orphan})
			old.ResourceVersion, old.UID = "", ""
			_, err := crbs.Create(ctx, old, metav1.CreateOptions{})
			return err
		})
		what += " (role " + r.role + ")"
	}
	created, err := crbs.Create(ctx, want, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("creating %s in the member: %w", what, err)
	}
	// Undoing the owner references runs first, so nothing that must stay
	// is owned by the binding when it goes.
	r.j.add("member", what, func(ctx context.Context) error {
		return crbs.Delete(ctx, created.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &created.UID}})
	})
	return created, nil
}

func (r *joinRun) ensureServiceAccount(ctx context.Context, name, identity string, owner *rbacv1.ClusterRoleBinding) (*corev1.ServiceAccount, error) {
	sas := r.member.CoreV1().ServiceAccounts(v1alpha1.Namespace)
	what := "serviceaccount/" + name
	sa, err := sas.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		sa = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: identityLabels(r.fed, identity)}}
		if owner != nil {
			sa.OwnerReferences = []metav1.OwnerReference{anchorRef(owner)}
		}
		if sa, err = sas.Create(ctx, sa, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return nil, fmt.Errorf("creating %s in the member: %w", what, err)
		}
		r.j.add("member", what, func(ctx context.Context) error {
			return sas.Delete(ctx, name, metav1.DeleteOptions{})
		})
		return sa, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s in the member: %w", what, err)
	}
	if !hasLabels(sa, identityLabels(r.fed, identity)) {
		old := sa.DeepCopy()
		withLabels(sa, identityLabels(r.fed, identity))
		if sa, err = sas.Update(ctx, sa, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return nil, fmt.Errorf("relabelling %s in the member: %w", what, err)
		}
		r.j.add("member", what+" (labels)", func(ctx context.Context) error {
			return restoreLabels(ctx, r.member.CoreV1().RESTClient(), "serviceaccounts", v1alpha1.Namespace, old)
		})
	}
	if owner != nil {
		err := r.ensureOwner(ctx, what, sa, owner, func(ctx context.Context, refs []metav1.OwnerReference) error {
			return patchOwners(ctx, r.member.CoreV1().RESTClient(), "serviceaccounts", v1alpha1.Namespace, name, refs)
		})
		if err != nil {
			return nil, err
		}
	}
	return sa, nil
}

// ensureOwner makes the anchor the only kfed owner of obj.
func (r *joinRun) ensureOwner(ctx context.Context, what string, obj metav1.Object, anchor *rbacv1.ClusterRoleBinding, patch func(context.Context, []metav1.OwnerReference) error) error {
	old := obj.GetOwnerReferences()
	var refs []metav1.OwnerReference
	for _, ref := range old {
		if ref.Kind == "ClusterRoleBinding" && ref.Name == ManagerClusterRoleBinding {
			continue
		}
		refs = append(refs, ref)
	}
	refs = append(refs, anchorRef(anchor))
	if apiequality.Semantic.DeepEqual(refs, old) {
		return nil
	}
	if err := patch(ctx, refs); err != nil {
		return fmt.Errorf("setting the owner of %s in the member: %w", what, err)
	}
	// Undo removes the reference rather than restoring the old one: the
	// binding the old one named may be gone by then, and the garbage
	// collector deletes whatever points only at owners that are gone.
	var undoRefs []metav1.OwnerReference
	for _, ref := range old {
		if !(ref.Kind == "ClusterRoleBinding" && ref.Name == ManagerClusterRoleBinding) {
			undoRefs = append(undoRefs, ref)
		}
	}
	r.j.add("member", what+" (owner)", func(ctx context.Context) error { return patch(ctx, undoRefs) })
	return nil
}

func (r *joinRun) ensureReaderRole(ctx context.Context) error {
	crs := r.member.RbacV1().ClusterRoles()
	want := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: DNSReaderClusterRole, Labels: identityLabels(r.fed, v1alpha1.IdentityDNSReader)},
		Rules:      DNSReaderRules(),
	}
	what := "clusterrole/" + DNSReaderClusterRole
	cur, err := crs.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := crs.Create(ctx, want, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return fmt.Errorf("creating %s in the member: %w", what, err)
		}
		r.j.add("member", what, func(ctx context.Context) error { return crs.Delete(ctx, want.Name, metav1.DeleteOptions{}) })
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s in the member: %w", what, err)
	}
	if apiequality.Semantic.DeepEqual(cur.Rules, want.Rules) && cur.AggregationRule == nil && hasLabels(cur, want.Labels) {
		return nil
	}
	old := cur.DeepCopy()
	cur.Rules, cur.AggregationRule = want.Rules, nil
	withLabels(cur, want.Labels)
	if _, err := crs.Update(ctx, cur, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
		return fmt.Errorf("repairing %s in the member: %w", what, err)
	}
	r.j.add("member", what+" (rules)", func(ctx context.Context) error {
		c, err := crs.Get(ctx, old.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		c.Rules, c.AggregationRule, c.Labels = old.Rules, old.AggregationRule, old.Labels
		_, err = crs.Update(ctx, c, metav1.UpdateOptions{})
		return err
	})
	return nil
}

func (r *joinRun) ensureReaderBinding(ctx context.Context) error {
	crbs := r.member.RbacV1().ClusterRoleBindings()
	want := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: DNSReaderClusterRoleBinding, Labels: identityLabels(r.fed, v1alpha1.IdentityDNSReader)},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: DNSReaderClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: DNSReaderServiceAccount, Namespace: v1alpha1.Namespace}},
	}
	what := "clusterrolebinding/" + DNSReaderClusterRoleBinding
	cur, err := crbs.Get(ctx, want.Name, metav1.GetOptions{})
	if err == nil && cur.RoleRef == want.RoleRef && apiequality.Semantic.DeepEqual(cur.Subjects, want.Subjects) && hasLabels(cur, want.Labels) {
		return nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading %s in the member: %w", what, err)
	}
	if err == nil {
		old := cur.DeepCopy()
		if err := crbs.Delete(ctx, cur.Name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("replacing %s in the member: %w", what, err)
		}
		r.j.add("member", what+" (replaced)", func(ctx context.Context) error {
			_ = crbs.Delete(ctx, old.Name, metav1.DeleteOptions{})
			old.ResourceVersion, old.UID = "", ""
			_, err := crbs.Create(ctx, old, metav1.CreateOptions{})
			return err
		})
	}
	if _, err := crbs.Create(ctx, want, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
		return fmt.Errorf("creating %s in the member: %w", what, err)
	}
	r.j.add("member", what, func(ctx context.Context) error { return crbs.Delete(ctx, want.Name, metav1.DeleteOptions{}) })
	return nil
}

// ensureToken makes sure the identity has a working token: the one the host
// already holds, if it still works and no rotation was asked for, or a new
// one from a token Secret join creates and the member's token controller
// fills.
func (r *joinRun) ensureToken(ctx context.Context, identity string, sa *corev1.ServiceAccount) error {
	secrets := r.member.CoreV1().Secrets(v1alpha1.Namespace)
	if r.existing != nil && !r.Rotate && !r.takeover {
		if tok, ok := r.currentToken(ctx, identity, sa); ok {
			r.tokens[identity] = tok
			return nil
		}
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    sa.Name + "-token-",
			Namespace:       v1alpha1.Namespace,
			Labels:          identityLabels(r.fed, identity),
			Annotations:     map[string]string{corev1.ServiceAccountNameKey: sa.Name},
			OwnerReferences: []metav1.OwnerReference{serviceAccountRef(sa)},
		},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	created, err := secrets.Create(ctx, secret, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return fmt.Errorf("creating the %s token Secret in the member: %w", identity, err)
	}
	what := "secret/" + created.Name
	r.j.add("member", what, func(ctx context.Context) error { return secrets.Delete(ctx, created.Name, metav1.DeleteOptions{}) })

	var value string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, tokenWait, true, func(ctx context.Context) (bool, error) {
		s, err := secrets.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		value = string(s.Data[corev1.ServiceAccountTokenKey])
		return value != "", nil
	})
	if err != nil {
		if wait.Interrupted(err) && ctx.Err() == nil {
			return fmt.Errorf("the member's token controller did not fill %s in %s: is kube-controller-manager running with --service-account-private-key-file?", what, tokenWait)
		}
		return fmt.Errorf("waiting for the member to fill %s: %w", what, err)
	}
	if err := r.prove(ctx, identity, value); err != nil {
		return err
	}
	r.tokens[identity] = token{secret: created.Name, value: value}
	return nil
}

// currentToken returns the identity's token the host holds, if its Secret
// still exists in the member, belongs to the identity's current
// ServiceAccount, and the token works.
func (r *joinRun) currentToken(ctx context.Context, identity string, sa *corev1.ServiceAccount) (token, bool) {
	cfg, name, err := r.Host.MemberConfig(ctx, r.existing, identity)
	if err != nil || name == "" {
		return token{}, false
	}
	s, err := r.member.CoreV1().Secrets(v1alpha1.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil || s.Annotations[corev1.ServiceAccountUIDKey] != string(sa.UID) {
		return token{}, false
	}
	value := string(s.Data[corev1.ServiceAccountTokenKey])
	if value == "" || value != cfg.BearerToken {
		return token{}, false
	}
	if r.prove(ctx, identity, value) != nil {
		return token{}, false
	}
	return token{secret: name, value: value}, true
}

// prove shows that a token works with real calls to the member: it
// authenticates as the identity, and the DNS reader can list EndpointSlices.
// The member's caches may take a moment to honour a new token and its
// bindings, so refusals are retried for a while.
func (r *joinRun) prove(ctx context.Context, identity, value string) error {
	cred := r.Member.Connection
	cred.Token = value
	cfg, err := cred.RESTConfig()
	if err != nil {
		return err
	}
	cfg.Timeout = 15 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	want := "system:serviceaccount:" + v1alpha1.Namespace + ":" + serviceAccountFor(identity)
	var last error
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, proofWait, true, func(ctx context.Context) (bool, error) {
		last = proveOnce(ctx, client, identity, want)
		if last == nil {
			return true, nil
		}
		if apierrors.IsUnauthorized(last) || apierrors.IsForbidden(last) {
			return false, nil
		}
		return false, last
	})
	if err != nil {
		if last == nil {
			last = err
		}
		return fmt.Errorf("the new %s token does not work against %s: %w", identity, cred.Server, last)
	}
	return nil
}

func proveOnce(ctx context.Context, client kubernetes.Interface, identity, want string) error {
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	if got := review.Status.UserInfo.Username; got != want {
		return fmt.Errorf("the token authenticates as %q, not %q", got, want)
	}
	if identity == v1alpha1.IdentityDNSReader {
		if _, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
			return err
		}
	}
	return nil
}

func (r *joinRun) ensureMarker(ctx context.Context) error {
	cms := r.member.CoreV1().ConfigMaps(v1alpha1.Namespace)
	data := map[string]string{
		keyFederation: r.fed,
		keyCluster:    r.Name,
		keyHostID:     r.hostID,
		keyHostServer: r.Host.Config.Host,
	}
	what := "configmap/" + MembershipConfigMap
	if r.marker == nil {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: MembershipConfigMap, Labels: memberLabels(r.fed)}, Data: data}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return fmt.Errorf("creating %s in the member: %w", what, err)
		}
		r.j.add("member", what, func(ctx context.Context) error { return cms.Delete(ctx, MembershipConfigMap, metav1.DeleteOptions{}) })
		return nil
	}
	if maps.Equal(r.marker.Data, data) && hasLabels(r.marker, memberLabels(r.fed)) {
		return nil
	}
	old := r.marker.DeepCopy()
	cm := r.marker.DeepCopy()
	cm.Data = data
	withLabels(cm, memberLabels(r.fed))
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
		return fmt.Errorf("updating %s in the member: %w", what, err)
	}
	r.j.add("member", what+" (membership)", func(ctx context.Context) error {
		cur, err := cms.Get(ctx, old.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Data, cur.Labels = old.Data, old.Labels
		_, err = cms.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	return nil
}

// applyHost saves the credentials and the Cluster, then records a first
// probe in its status.
func (r *joinRun) applyHost(ctx context.Context) (*v1alpha1.Cluster, error) {
	// A takeover within this host replaces the Clusters that held the
	// member before.
	for _, c := range r.stale {
		if err := r.deleteStale(ctx, c); err != nil {
			return nil, err
		}
	}
	var secrets []*corev1.Secret
	for _, id := range []string{v1alpha1.IdentityManager, v1alpha1.IdentityDNSReader} {
		s, err := r.ensureCredential(ctx, id)
		if err != nil {
			return nil, err
		}
		secrets = append(secrets, s)
	}
	cluster, err := r.ensureCluster(ctx)
	if err != nil {
		return nil, err
	}
	// The Cluster owns its Secrets, so deleting it in the host removes them.
	for _, s := range secrets {
		if hasOwner(s, string(cluster.UID)) {
			continue
		}
		ref := metav1.OwnerReference{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Cluster", Name: cluster.Name, UID: cluster.UID}
		if err := patchOwners(ctx, r.Host.Kube.CoreV1().RESTClient(), "secrets", r.Host.Namespace, s.Name, []metav1.OwnerReference{ref}); err != nil {
			return nil, fmt.Errorf("setting the owner of secret %s/%s in the host: %w", s.Namespace, s.Name, err)
		}
	}

	manager, err := r.credentialFor(v1alpha1.IdentityManager).RESTConfig()
	if err != nil {
		return nil, err
	}
	reader, err := r.credentialFor(v1alpha1.IdentityDNSReader).RESTConfig()
	if err != nil {
		return nil, err
	}
	probeCtx, cancel := context.WithTimeout(ctx, r.Federation.ClusterTimeoutOrDefault())
	defer cancel()
	h := member.Probe(probeCtx, manager, reader)
	if !h.Ready {
		return nil, fmt.Errorf("probing the member with the new credentials: %s: %s", h.Reason, h.Message)
	}
	h.ApplyTo(cluster)
	updated, err := r.Host.Clusters.UpdateStatus(ctx, cluster, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("recording the member's status in cluster.kfed.dev/%s: %w", cluster.Name, err)
	}
	return updated, nil
}

func (r *joinRun) credentialFor(identity string) store.Credential {
	c := r.Member.Connection
	c.Token = r.tokens[identity].value
	return c
}

func (r *joinRun) ensureCredential(ctx context.Context, identity string) (*corev1.Secret, error) {
	secrets := r.Host.Kube.CoreV1().Secrets(r.Host.Namespace)
	tok := r.tokens[identity]
	want, err := r.Host.CredentialSecret(r.fed, r.Name, identity, tok.secret, r.credentialFor(identity))
	if err != nil {
		return nil, err
	}
	what := "secret/" + want.Name
	cur, err := secrets.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		created, err := secrets.Create(ctx, want, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
		if err != nil {
			return nil, fmt.Errorf("saving %s in the host: %w", what, err)
		}
		r.j.add("host", what, func(ctx context.Context) error { return secrets.Delete(ctx, want.Name, metav1.DeleteOptions{}) })
		return created, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s in the host: %w", what, err)
	}
	// Compare what the kubeconfig means, not its bytes.
	same := cur.Type == want.Type && hasLabels(cur, want.Labels) &&
		cur.Annotations[store.AnnotationTokenSecret] == tok.secret && sameCredential(cur, want)
	if same {
		return cur, nil
	}
	if cur.Type != want.Type {
		return nil, fmt.Errorf("%s in the host has type %s, not %s: remove it and join again", what, cur.Type, want.Type)
	}
	old := cur.DeepCopy()
	cur.Data, cur.Annotations = want.Data, want.Annotations
	withLabels(cur, want.Labels)
	updated, err := secrets.Update(ctx, cur, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("updating %s in the host: %w", what, err)
	}
	r.j.add("host", what+" (credential)", func(ctx context.Context) error {
		s, err := secrets.Get(ctx, old.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Data, s.Annotations, s.Labels = old.Data, old.Annotations, old.Labels
		_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
		return err
	})
	return updated, nil
}

func sameCredential(a, b *corev1.Secret) bool {
	ca, errA := store.ConfigFromSecret(a)
	cb, errB := store.ConfigFromSecret(b)
	if errA != nil || errB != nil {
		return false
	}
	return ca.Host == cb.Host && ca.BearerToken == cb.BearerToken &&
		string(ca.CAData) == string(cb.CAData) && ca.ServerName == cb.ServerName &&
		ca.Insecure == cb.Insecure
}

func (r *joinRun) ensureCluster(ctx context.Context) (*v1alpha1.Cluster, error) {
	clusters := r.Host.Clusters
	what := "cluster.kfed.dev/" + r.Name
	labels := map[string]string{}
	if r.existing != nil {
		maps.Copy(labels, r.existing.Labels)
	}
	maps.Copy(labels, r.Labels)
	if r.existing == nil {
		c := &v1alpha1.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Host.Namespace, Labels: labels},
			Spec:       r.cluster,
		}
		if len(c.Labels) == 0 {
			c.Labels = nil
		}
		created, err := clusters.Create(ctx, c, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
		if err != nil {
			return nil, fmt.Errorf("creating %s in the host: %w", what, err)
		}
		r.j.add("host", what, func(ctx context.Context) error {
			return clusters.Delete(ctx, r.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &created.UID}})
		})
		return created, nil
	}
	cur := r.existing.DeepCopy()
	if apiequality.Semantic.DeepEqual(cur.Spec, r.cluster) && maps.Equal(cur.Labels, labels) {
		return cur, nil
	}
	old := r.existing.DeepCopy()
	cur.Spec = r.cluster
	if len(labels) > 0 {
		cur.Labels = labels
	}
	updated, err := clusters.Update(ctx, cur, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("updating %s in the host: %w", what, err)
	}
	r.j.add("host", what+" (spec)", func(ctx context.Context) error {
		c, err := clusters.Get(ctx, old.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		c.Spec, c.Labels = old.Spec, old.Labels
		_, err = clusters.Update(ctx, c, metav1.UpdateOptions{})
		return err
	})
	return updated, nil
}

// deleteStale removes a Cluster of this host that held the member under
// another name or federation, with its credentials. It is undone by
// putting them back as they were.
func (r *joinRun) deleteStale(ctx context.Context, c *v1alpha1.Cluster) error {
	secrets := r.Host.Kube.CoreV1().Secrets(r.Host.Namespace)
	var saved []*corev1.Secret
	for _, name := range []string{c.Spec.Credentials.Manager.Name, c.Spec.Credentials.DNSReader.Name} {
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		saved = append(saved, s)
	}
	what := fmt.Sprintf("cluster.kfed.dev/%s of federation %s", c.Name, c.Spec.Federation)
	orphan := metav1.DeletePropagationOrphan
	if err := r.Host.Clusters.Delete(ctx, c.Name, metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing %s from the host: %w", what, err)
	}
	for _, s := range saved {
		if err := secrets.Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing secret %s/%s from the host: %w", s.Namespace, s.Name, err)
		}
	}
	r.j.add("host", what+" (removed)", func(ctx context.Context) error {
		restored := c.DeepCopy()
		restored.ResourceVersion, restored.UID, restored.Status = "", "", v1alpha1.ClusterStatus{}
		if _, err := r.Host.Clusters.Create(ctx, restored, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		for _, s := range saved {
			s = s.DeepCopy()
			s.ResourceVersion, s.UID, s.OwnerReferences = "", "", nil
			if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			}
		}
		return nil
	})
	return nil
}

// commit deletes what the join superseded: token Secrets other than the
// ones now in use. The join has succeeded by then, so failures are
// warnings, naming what to delete by hand.
func (r *joinRun) commit(ctx context.Context) {
	inUse := map[string]bool{}
	for _, t := range r.tokens {
		inUse[t.secret] = true
	}
	secrets := r.member.CoreV1().Secrets(v1alpha1.Namespace)
	list, err := secrets.List(ctx, metav1.ListOptions{FieldSelector: "type=" + string(corev1.SecretTypeServiceAccountToken)})
	if err != nil {
		r.Warnf("could not list the member's old token Secrets, which may still work: %v", err)
		return
	}
	var failed []string
	for _, s := range list.Items {
		sa := s.Annotations[corev1.ServiceAccountNameKey]
		if inUse[s.Name] || (sa != ManagerServiceAccount && sa != DNSReaderServiceAccount) {
			continue
		}
		if err := secrets.Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			failed = append(failed, s.Name)
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		r.Warnf("old tokens still work until you delete their Secrets: kubectl --context %s -n %s delete secret %s",
			r.Member.Context, v1alpha1.Namespace, strings.Join(failed, " "))
	}
}

// patchOwners sets an object's owner references with a JSON merge patch.
func patchOwners(ctx context.Context, client rest.Interface, resource, namespace, name string, refs []metav1.OwnerReference) error {
	if refs == nil {
		refs = []metav1.OwnerReference{}
	}
	return patchMeta(ctx, client, resource, namespace, name, map[string]any{"ownerReferences": refs})
}

// restoreLabels puts an object's labels back as they were.
func restoreLabels(ctx context.Context, client rest.Interface, resource, namespace string, old metav1.Object) error {
	// A merge patch only adds and changes keys: set the removed ones to null.
	return patchMeta(ctx, client, resource, namespace, old.GetName(), map[string]any{"labels": labelPatch(old.GetLabels())})
}

func labelPatch(old map[string]string) map[string]any {
	p := map[string]any{}
	for k, v := range old {
		p[k] = v
	}
	for _, k := range []string{v1alpha1.LabelFederation, v1alpha1.LabelManagedBy, v1alpha1.LabelComponent, v1alpha1.LabelIdentity} {
		if _, ok := old[k]; !ok {
			p[k] = nil
		}
	}
	return p
}

func patchMeta(ctx context.Context, client rest.Interface, resource, namespace, name string, meta map[string]any) error {
	body, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return err
	}
	req := client.Patch(types.MergePatchType).Resource(resource).Name(name).Body(body)
	if namespace != "" {
		req = req.Namespace(namespace)
	}
	return req.Do(ctx).Error()
}

// waitGone waits until get returns NotFound.
func waitGone(ctx context.Context, get func(context.Context) error) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := get(ctx)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// Identities lists kfed's identities in a stable order.
func Identities() []string {
	return []string{v1alpha1.IdentityManager, v1alpha1.IdentityDNSReader}
}
