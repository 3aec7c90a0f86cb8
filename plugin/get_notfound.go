package plugin

// A named object that some members lack is shown where it is; one that
// every member lacks is an error, as a name not found is for kubectl get.

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kfed-dev/kfed/pkg/aggregate"
)

// foundNowhere returns an error for each named object that every member
// that answered reported missing.
func foundNowhere(answers []*aggregate.Answer, someFailed bool) []error {
	type missing struct {
		err      error
		clusters []string
	}
	var order []string
	byKey := map[string]*missing{}
	for _, a := range answers {
		for _, err := range a.NotFound {
			k := err.Error()
			var st apierrors.APIStatus
			if errors.As(err, &st) && st.Status().Details != nil {
				d := st.Status().Details
				k = d.Group + "/" + d.Kind + "/" + d.Name
			}
			m := byKey[k]
			if m == nil {
				m = &missing{err: err}
				byKey[k] = m
				order = append(order, k)
			}
			m.clusters = append(m.clusters, a.Cluster)
		}
	}
	var errs []error
	for _, k := range order {
		m := byKey[k]
		if len(m.clusters) < len(answers) {
			continue
		}
		msg := m.err.Error()
		if st, ok := m.err.(apierrors.APIStatus); ok {
			msg = st.Status().Message
		}
		if someFailed {
			errs = append(errs, fmt.Errorf("%s in %s, and the other clusters could not be read", msg, strings.Join(m.clusters, ", ")))
		} else {
			errs = append(errs, fmt.Errorf("%s in any cluster", msg))
		}
	}
	return errs
}
