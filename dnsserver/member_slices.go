package dnsserver

import (
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A member's EndpointSlices are cached as sliceSummary values, not as
// EndpointSlices: answers ask of a slice only which Service it belongs to
// and whether it has a ready endpoint, and at 2,500 Services a member a
// summary costs a tenth of even a trimmed EndpointSlice.

// sliceSummary is what the cache keeps of an EndpointSlice.
type sliceSummary struct {
	namespace, name string
	// service is the name of the slice's Service, from its
	// kubernetes.io/service-name label; empty without one.
	service string
	// ready tells whether some endpoint is ready.
	ready bool
}

// GetObjectMeta makes a summary something the informer's key function can
// name (metav1.ObjectMetaAccessor).
func (s *sliceSummary) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Namespace: s.namespace, Name: s.name}
}

// summarize is the transform of EndpointSlices.
func summarize(o *discoveryv1.EndpointSlice) *sliceSummary {
	return &sliceSummary{
		namespace: o.Namespace,
		name:      o.Name,
		service:   o.Labels[discoveryv1.LabelServiceName],
		ready:     readyEndpoints([]any{o}) > 0,
	}
}

// sliceService is the byService index function.
func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*sliceSummary)
	if !ok || s.service == "" {
		return nil, nil
	}
	return []string{s.namespace + "/" + s.service}, nil
}

// sliceServiceOf is the key of a slice's Service.
func sliceServiceOf(obj any) string {
	keys, _ := sliceService(obj)
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// anyReady reports whether some summary of a Service's slices has a ready
// endpoint.
func anyReady(summaries []any) bool {
	for _, obj := range summaries {
		if s, ok := obj.(*sliceSummary); ok && s.ready {
			return true
		}
	}
	return false
}
