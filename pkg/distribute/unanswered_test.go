package distribute

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

type staticMapper struct{ *meta.DefaultRESTMapper }

func (staticMapper) Reset() {}

// hangingServer returns the URL of an API server that answers a few reads
// and never answers a write, as one whose process stopped between the two
// would, and a count of the writes it was sent.
func hangingServer(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	release := make(chan struct{})
	var writes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writes.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/default":
			fmt.Fprint(w, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}`)
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/default/configmaps":
			fmt.Fprint(w, `{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadataList","metadata":{},"items":[]}`)
		default:
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.URL, &writes
}

// hangingTarget returns a member whose API server is a hangingServer.
func hangingTarget(t *testing.T, timeout time.Duration) *Target {
	t.Helper()
	url, _ := hangingServer(t)
	cfg := &rest.Config{Host: url, Timeout: timeout, QPS: 1000, Burst: 1000}
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	tgt := &Target{Ready: true, RequestTimeout: timeout, Mapper: staticMapper{mapper}, Types: mapper}
	tgt.Cluster.Name = "jpn"
	tgt.Member.Name = "jpn"
	tgt.Dynamic = dynamic.NewForConfigOrDie(cfg)
	tgt.Metadata = metadata.NewForConfigOrDie(cfg)
	return tgt
}

// TestApplyStopsAtASilentMember: the writes in flight when a member stops
// answering fail after one request timeout, saying the object may be
// there; the rest fail at once, not sent; every plan is finished.
func TestApplyStopsAtASilentMember(t *testing.T) {
	const objects, timeout = 60, 300 * time.Millisecond
	tgt := hangingTarget(t, timeout)
	var plans []*Plan
	for i := range objects {
		p, err := NewPlan("ring", obj(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%02d, namespace: default}", i)), []*Target{tgt})
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	var mu sync.Mutex
	finished := 0
	begin := time.Now()
	results := Apply(t.Context(), []*Target{tgt}, plans, Options{Federation: "ring", Finished: func(p *Plan, rs []Result) {
		mu.Lock()
		finished += len(rs)
		mu.Unlock()
	}})
	took := time.Since(begin)
	if took > 3*timeout {
		t.Errorf("Apply took %s with a %s request timeout: the member's silence was waited out more than once", took, timeout)
	}
	if len(results) != objects || finished != objects {
		t.Fatalf("%d results, %d finished; want %d", len(results), finished, objects)
	}
	sent, notSent := 0, 0
	for _, r := range results {
		if r.Action != v1alpha1.ActionFailed {
			t.Errorf("%s: %s, want failed", r.Key, r.Action)
		}
		switch r.Presence {
		case PresenceMaybe:
			sent++
			if want := "cluster jpn stopped answering: no answer within 300ms; the object may have been written there"; !strings.HasPrefix(r.Message, want) {
				t.Errorf("message of a write in flight: %q, want it to start %q", r.Message, want)
			}
		case PresenceUnknown:
			notSent++
			if want := "not attempted: cluster jpn stopped answering: no answer within 300ms"; r.Message != want {
				t.Errorf("message of a write not sent: %q, want %q", r.Message, want)
			}
		default:
			t.Errorf("%s: presence %d", r.Key, r.Presence)
		}
	}
	if sent == 0 || sent > objectWorkers || notSent == 0 {
		t.Errorf("%d writes in flight, %d not sent; want 1 to %d in flight and the rest not sent", sent, notSent, objectWorkers)
	}

	// Later in the same command, the member is not waited for again.
	if err := tgt.Silent(); err == nil || err.Error() != "cluster jpn stopped answering: no answer within 300ms" {
		t.Errorf("Silent() = %v", err)
	}
	begin = time.Now()
	results = Delete(t.Context(), []*Target{tgt}, map[string][]DeleteItem{"jpn": {{Key: plans[0].Key, APIVersion: "v1"}}}, Options{Federation: "ring"})
	if took := time.Since(begin); took > timeout/2 {
		t.Errorf("a delete after the member fell silent took %s", took)
	}
	if len(results) != 1 || results[0].Action != v1alpha1.ActionPendingDeletion || !strings.HasPrefix(results[0].Message, "not attempted: cluster jpn stopped answering") {
		t.Errorf("delete after the member fell silent: %+v", results)
	}
}

func TestUnanswered(t *testing.T) {
	tgt := hangingTarget(t, 100*time.Millisecond)
	_, err := tgt.Metadata.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default").Get(t.Context(), "x", metav1.GetOptions{})
	if !unanswered(err) {
		t.Errorf("a request timeout: unanswered(%v) = false", err)
	}
	_, err = tgt.Metadata.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default").List(t.Context(), metav1.ListOptions{})
	if err != nil || unanswered(err) {
		t.Errorf("an answer: %v", err)
	}
}
