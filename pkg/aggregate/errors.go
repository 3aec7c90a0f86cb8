package aggregate

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
)

// ClusterError is the failure of one member: unreachable, forbidden, or
// not serving the type asked for.
type ClusterError struct {
	Cluster string
	Err     error
}

func (e *ClusterError) Error() string {
	return fmt.Sprintf("cluster %s: %s", e.Cluster, Describe(e.Err))
}

func (e *ClusterError) Unwrap() error { return e.Err }

// Describe words an error from a member as kubectl would word it for one
// cluster, where the error value alone reads poorly.
func Describe(err error) string {
	var nm *meta.NoResourceMatchError
	if errors.As(err, &nm) {
		r := nm.PartialResource
		switch {
		case r.Group != "" && r.Version != "":
			return fmt.Sprintf("the server doesn't have a resource type %q in group %q and version %q", r.Resource, r.Group, r.Version)
		case r.Group != "":
			return fmt.Sprintf("the server doesn't have a resource type %q in group %q", r.Resource, r.Group)
		case r.Version != "":
			return fmt.Sprintf("the server doesn't have a resource type %q in version %q", r.Resource, r.Version)
		}
		return fmt.Sprintf("the server doesn't have a resource type %q", r.Resource)
	}
	return err.Error()
}

// Errors are the failures of one command across members. It prints each
// on its own line in kubectl's form, "error: cluster eur: ...", so that
// kubectl's CheckErr shows every member's failure as it shows one, and
// exits 1.
type Errors []error

// NewErrors returns errs as one error, or nil when there are none. Cluster
// errors come first, sorted by cluster, then the others in their order.
func NewErrors(errs []error) error {
	var out Errors
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	if len(out) == 0 {
		return nil
	}
	sort.SliceStable(out, func(i, j int) bool {
		ci, cj := clusterOf(out[i]), clusterOf(out[j])
		if (ci == "") != (cj == "") {
			return ci != ""
		}
		return ci < cj
	})
	return out
}

func clusterOf(err error) string {
	var ce *ClusterError
	if errors.As(err, &ce) {
		return ce.Cluster
	}
	return ""
}

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = "error: " + strings.TrimPrefix(err.Error(), "error: ")
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As see every failure.
func (e Errors) Unwrap() []error { return e }
