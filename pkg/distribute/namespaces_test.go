package distribute

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
)

// A namespace a delete just removed is still terminating when an apply
// right after needs it: the write waits until it is gone, then makes it.
func TestAwaitNamespaceGone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answers  []string // what each read finds: terminating, gone, live
		dryRun   DryRun
		notFound bool
	}{
		{"gone after a while", []string{"terminating", "terminating", "gone"}, DryRunNone, true},
		{"made anew meanwhile", []string{"terminating", "live"}, DryRunNone, false},
		{"a dry run does not wait", nil, DryRunClient, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
			reads := 0
			client.PrependReactor("get", "namespaces", func(clienttesting.Action) (bool, runtime.Object, error) {
				if reads >= len(tc.answers) {
					t.Fatalf("read %d times, %d answers", reads+1, len(tc.answers))
				}
				answer := tc.answers[reads]
				reads++
				ns := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
				switch answer {
				case "gone":
					return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "shop")
				case "terminating":
					now := metav1.Now()
					ns.DeletionTimestamp = &now
				}
				return true, ns, nil
			})
			w := newWriter(&Target{Metadata: client}, Options{DryRun: tc.dryRun})
			err := w.awaitNamespaceGone(context.Background(), "shop")
			if apierrors.IsNotFound(err) != tc.notFound || (!tc.notFound && err != nil) {
				t.Errorf("got %v after %d reads", err, reads)
			}
			if reads != len(tc.answers) {
				t.Errorf("%d reads, want %d", reads, len(tc.answers))
			}
		})
	}
}
