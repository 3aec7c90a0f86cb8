package member

import (
	"fmt"
	"strings"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// ForbiddenError is a member's refusal to let kfed's manager identity do
// what a command asked of it: the manager's grant, chosen at join, does not
// cover the kind or the namespace. It says so, and how to grant more; the
// member's own error stays wrapped, so apierrors.IsForbidden still holds.
type ForbiddenError struct {
	// Cluster is the member, and Grant describes what its manager may do.
	Cluster *v1alpha1.Cluster
	// Kind names what was refused, as "Widget (widgets.example.com)", and
	// Namespace where, if anywhere.
	Kind, Namespace string
	Err             error
}

func (e *ForbiddenError) Error() string {
	where := ""
	if e.Namespace != "" {
		where = " in namespace " + e.Namespace
	}
	role := e.Cluster.Spec.ManagerClusterRole
	grant := "ClusterRole " + role
	if ns := e.Cluster.Spec.ManagerNamespaces; len(ns) > 0 {
		grant = "namespaces " + strings.Join(ns, ", ") + " only"
	}
	if role == "" {
		grant = "its ClusterRole"
	}
	again := ""
	if role == v1alpha1.DefaultManagerClusterRole && len(e.Cluster.Spec.ManagerNamespaces) == 0 {
		// kfed's role covers the kinds the member served at join: a CRD
		// applied since needs a join to be written.
		again = fmt.Sprintf("if the kind is new since the join (a CRD's), join it again (kubectl fed join %s --cluster-context CONTEXT) so that %s covers it; otherwise ",
			e.Cluster.Name, role)
	}
	return fmt.Sprintf("cluster %s does not let kfed's manager write %s%s (it was granted %s at join): %s"+
		"rejoin it with more, as in kubectl fed join %s --cluster-context CONTEXT --manager-cluster-role cluster-admin, or with a ClusterRole of yours that allows it",
		e.Cluster.Name, e.Kind, where, grant, again, e.Cluster.Name)
}

func (e *ForbiddenError) Unwrap() error { return e.Err }
