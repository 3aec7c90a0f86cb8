// Package aggregate reads objects of any type from every member of a
// federation and merges the answers into one view: one table with a CLUSTER
// column first, or one list whose items say which member they came from.
//
// Each member is read as kubectl get reads one cluster, through
// resource.Builder with the member's own discovery, so that TYPE may be a
// plural, a singular, a short name or kind.group, and a custom resource
// works wherever its CRD is installed.
package aggregate

import (
	"context"
	"errors"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/rest"
)

// AnnotationCluster names, on an object printed by `kubectl fed get -o
// yaml|json`, the member the object was read from. It is added on output
// only and never written to any cluster.
const AnnotationCluster = "kfed.dev/cluster"

// Query is what to read from every member, in the terms of kubectl get.
type Query struct {
	// Args are kubectl get's arguments: TYPE[,TYPE...] [NAME...], or
	// TYPE/NAME....
	Args []string
	// Namespace is where namespaced objects are read, unless
	// AllNamespaces.
	Namespace     string
	AllNamespaces bool
	LabelSelector string
	FieldSelector string
	// Table asks the servers for their tables, for people to read, instead
	// of the objects.
	Table bool
	// FullObjects asks for each table row to carry the whole object rather
	// than its metadata, for sorting by any field.
	FullObjects bool
	// ChunkSize bounds each list request; 0 lists in one request.
	ChunkSize int64
}

// Answer is what one member answered.
type Answer struct {
	// Cluster names the member.
	Cluster string
	// Infos hold, in the order the types were asked for, the member's
	// server-side Tables (when Query.Table) or its objects. A list may
	// come as several Tables, one per chunk.
	Infos []*resource.Info
	// NotFound holds a NotFound error for each named object the member
	// does not have. Another member may have it: this is not a failure.
	NotFound []error
	// ResourceVersion is the resourceVersion of the member's list, where a
	// watch of what was listed starts. It is empty when the query named
	// objects, or listed objects (not tables) and found none.
	ResourceVersion string

	// member is the client the answer was read with, for a watch to go on
	// with.
	member *Member
}

// tableAccept asks for a server-side Table, and for plain JSON from a
// server that cannot make one, as kubectl get does.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

func asTable(req *rest.Request) { req.SetHeader("Accept", tableAccept) }

// withObjects asks for the whole object in each row of a table.
func withObjects(req *rest.Request) { req.Param("includeObject", string(metav1.IncludeObject)) }

// builder returns a Builder for what q asks of m, ready to Do.
func (q Query) builder(m *Member) *resource.Builder {
	b := resource.NewBuilder(m).
		Unstructured().
		NamespaceParam(q.Namespace).DefaultNamespace().AllNamespaces(q.AllNamespaces).
		LabelSelectorParam(q.LabelSelector).
		FieldSelectorParam(q.FieldSelector).
		RequestChunksOf(q.ChunkSize).
		ResourceTypeOrNameArgs(true, q.Args...).
		ContinueOnError().
		Flatten()
	switch {
	case q.Table && q.FullObjects:
		// Each call replaces the transforms of the last.
		b = b.TransformRequests(asTable, withObjects)
	case q.Table:
		b = b.TransformRequests(asTable)
	}
	return b
}

// lists reports whether q lists types rather than naming objects.
func (q Query) lists() bool {
	return len(q.Args) == 1 && !strings.Contains(q.Args[0], "/")
}

// Get reads from one member what q asks for. It returns what it could read
// even when it also returns an error: a forbidden type or an unreachable
// server fails the member, a named object it does not have does not.
//
// resource.Builder makes its requests without a context, so ctx bounds only
// a first request that checks that the member answers at all; the caller
// bounds the rest, as fanout.Map does.
func Get(ctx context.Context, m *Member, cluster string, q Query) (*Answer, error) {
	if err := m.reachable(ctx); err != nil {
		return nil, err
	}
	infos, ok, err := listTables(ctx, m, q)
	if !ok {
		r := q.builder(m).Do()
		if err := r.Err(); err != nil {
			return nil, err
		}
		infos, err = r.Infos()
	}
	a := &Answer{Cluster: cluster, Infos: infos, member: m}
	if q.lists() {
		// A list's items, and the tables of its chunks, carry the list's
		// resourceVersion.
		for _, info := range infos {
			if info.ResourceVersion != "" {
				a.ResourceVersion = info.ResourceVersion
				break
			}
		}
	}
	var failed []error
	for _, e := range flatten(err) {
		if isObjectNotFound(e) {
			a.NotFound = append(a.NotFound, e)
			continue
		}
		failed = append(failed, e)
	}
	return a, utilerrors.NewAggregate(failed)
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) {
		return utilerrors.Flatten(agg).Errors()
	}
	return []error{err}
}

// isObjectNotFound tells a named object that is missing from a type that
// is missing, which the API server also answers with 404, but without a
// name.
func isObjectNotFound(err error) bool {
	var st apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &st) {
		return false
	}
	d := st.Status().Details
	return d != nil && d.Name != ""
}

// Types returns the resource types of the answers in the order they were
// asked for. A member that lacks a type's objects says nothing of that
// type, so each member's order only places the types it returned: a type
// first seen in one member goes before the next type that member returned
// which is already placed.
func Types(answers []*Answer) []schema.GroupResource {
	var order []schema.GroupResource
	placed := map[schema.GroupResource]bool{}
	for _, a := range answers {
		var seq []schema.GroupResource
		seen := map[schema.GroupResource]bool{}
		for _, info := range a.Infos {
			if info.Mapping == nil {
				continue
			}
			gr := info.Mapping.Resource.GroupResource()
			if !seen[gr] {
				seen[gr] = true
				seq = append(seq, gr)
			}
		}
		for i, gr := range seq {
			if placed[gr] {
				continue
			}
			at := len(order)
			for _, next := range seq[i+1:] {
				if placed[next] {
					at = slices.Index(order, next)
					break
				}
			}
			order = slices.Insert(order, at, gr)
			placed[gr] = true
		}
	}
	return order
}

// Kinds returns the kinds of what the members answered with, each once.
func Kinds(answers []*Answer) []schema.GroupKind {
	var out []schema.GroupKind
	seen := map[schema.GroupKind]bool{}
	for _, a := range answers {
		for _, info := range a.Infos {
			if info.Mapping == nil {
				continue
			}
			if gk := info.Mapping.GroupVersionKind.GroupKind(); !seen[gk] {
				seen[gk] = true
				out = append(out, gk)
			}
		}
	}
	return out
}
