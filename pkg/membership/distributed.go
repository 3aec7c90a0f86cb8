package membership

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/occupants"
)

// Rate limits of deleting what was distributed: it lists every kind the
// member serves, about 50, then scans each namespace kfed made with one
// list per namespaced kind; client-go's default of 5 a second would make
// each of those take seconds.
const (
	memberQPS   = 100
	memberBurst = 300
)

// deleteDistributed deletes every object in the member that kfed
// distributed for the federation: those labelled with the federation and
// kfed's manager, except join's own. CRDs go last, since deleting them takes
// what they define with them. Namespaces kfed made (implicitly for the
// objects in them, or federated on purpose) go only once nothing but
// kfed's objects is left in them (see package occupants): deleting one
// would take everything else in it along. It returns the counts deleted
// by resource, and the namespaces that stay with the reason why.
//
// A manager that may write some namespaces alone (scoped) is asked only
// about those; kinds the member does not let it list, it cannot have
// written either, and are passed over.
func deleteDistributed(ctx context.Context, cfg *rest.Config, fed string, scoped []string, progress func(done, total int)) (map[string]int, []KeptNamespace, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = memberQPS, memberBurst
	// Every kind is listed, deprecated ones too; their warnings are not
	// the user's business here.
	cfg.WarningHandler = rest.NoWarnings{}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	lists, err := disco.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, nil, err
	}
	sel := labels.SelectorFromSet(labels.Set{v1alpha1.LabelFederation: fed, v1alpha1.LabelManagedBy: v1alpha1.ManagedBy})
	notMembership, _ := labels.NewRequirement(v1alpha1.LabelComponent, selection.NotEquals, []string{v1alpha1.ComponentMembership})
	sel = sel.Add(*notMembership)

	type target struct {
		gvr        schema.GroupVersionResource
		namespaced bool
	}
	var first, last []target
	namespaces := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !occupants.HasVerbs(r.Verbs, "list", "delete") {
				continue
			}
			if gv.Group == "events.k8s.io" || (gv.Group == "" && r.Name == "events") {
				continue
			}
			t := target{gv.WithResource(r.Name), r.Namespaced}
			switch {
			case gv.Group == "" && r.Name == "namespaces":
				// Judged one by one below.
			case gv.Group == "apiextensions.k8s.io" && r.Name == "customresourcedefinitions":
				last = append(last, t)
			default:
				first = append(first, t)
			}
		}
	}
	counts := map[string]int{}
	var errs []error
	background := metav1.DeletePropagationBackground
	// The total grows as kinds are listed: a count that moves is what a
	// long unjoin owes its user, and listing every kind first would delay
	// the first deletion.
	done, listed := 0, 0
	for _, t := range append(first, last...) {
		items, err := listDistributed(ctx, dyn, t.gvr, t.namespaced, scoped, sel.String())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		listed += len(items)
		for _, item := range items {
			done++
			if progress != nil {
				progress(done, listed)
			}
			var del dynamic.ResourceInterface = dyn.Resource(t.gvr)
			if t.namespaced {
				del = dyn.Resource(t.gvr).Namespace(item.GetNamespace())
			}
			err := del.Delete(ctx, item.GetName(), metav1.DeleteOptions{PropagationPolicy: &background})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting %s %s: %w", t.gvr.GroupResource(), item.GetName(), err))
				continue
			}
			counts[t.gvr.GroupResource().String()]++
		}
	}

	if len(scoped) > 0 {
		// Namespaces are the operator's when the manager may write only
		// some: it made none of them.
		return counts, nil, errors.Join(errs...)
	}
	nsList, err := dyn.Resource(namespaces).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return counts, nil, errors.Join(append(errs, fmt.Errorf("listing namespaces: %w", err))...)
	}
	var kept []KeptNamespace
	var scanner *occupants.Scanner
	for _, ns := range nsList.Items {
		if ns.GetDeletionTimestamp() != nil {
			continue
		}
		if scanner == nil {
			if scanner, err = occupants.NewScanner(cfg); err != nil {
				return counts, nil, errors.Join(append(errs, err)...)
			}
		}
		// Every object of the federation in the member is being deleted
		// now, so none is kept: the federation's own count as gone.
		verdict, err := scanner.Scan(ctx, ns.GetName(), occupants.Owner{Federation: fed})
		if err != nil {
			kept = append(kept, KeptNamespace{ns.GetName(), fmt.Sprintf("could not check what it holds, so it stays: %v", err)})
			continue
		}
		if !verdict.Removable() {
			kept = append(kept, KeptNamespace{ns.GetName(), verdict.Reason()})
			continue
		}
		uid := ns.GetUID()
		err = dyn.Resource(namespaces).Delete(ctx, ns.GetName(), metav1.DeleteOptions{PropagationPolicy: &background, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting namespaces %s: %w", ns.GetName(), err))
			continue
		}
		counts[namespaces.GroupResource().String()]++
	}
	return counts, kept, errors.Join(errs...)
}

// listDistributed lists the objects of one kind that kfed distributed: in
// every namespace, or in each of scoped. NotFound, MethodNotSupported and
// Forbidden mean none: the kind went away, cannot be listed, or the manager
// may not list it and so cannot have written it.
func listDistributed(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, namespaced bool, scoped []string, sel string) ([]unstructured.Unstructured, error) {
	where := []string{metav1.NamespaceAll}
	if namespaced && len(scoped) > 0 {
		where = scoped
	}
	var out []unstructured.Unstructured
	for _, ns := range where {
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if namespaced {
			ri = dyn.Resource(gvr).Namespace(ns)
		}
		items, err := ri.List(ctx, metav1.ListOptions{LabelSelector: sel})
		switch {
		case apierrors.IsNotFound(err), apierrors.IsMethodNotSupported(err), apierrors.IsForbidden(err):
			continue
		case err != nil:
			return out, fmt.Errorf("listing %s: %w", gvr.GroupResource(), err)
		}
		out = append(out, items.Items...)
	}
	return out, nil
}
