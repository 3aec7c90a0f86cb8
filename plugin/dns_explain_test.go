package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/pkg/explain"
)

// sampleReport is a geo answer for a client in Tokyo, jpn chosen.
func sampleReport() explain.Report {
	return explain.Report{
		Query:         explain.Query{Name: "web.demo.magicring.svc.demo.example.com.", Type: "A", ECS: "192.0.2.0/24", Source: "127.0.0.1"},
		Zone:          "demo.example.com.",
		Kind:          "service",
		Level:         "global",
		AnsweredLevel: "global",
		Serial:        7,
		Client: &explain.Client{Address: "192.0.2.0", From: explain.FromECS, Result: "found", Network: "192.0.2.0/24",
			City: "Tokyo", Country: "JP", Latitude: ptr.To(35.6895), Longitude: ptr.To(139.6917)},
		Policy: &explain.Policy{Requested: "geo", Source: explain.SourceAnnotation, SourceCluster: "eur", Applied: "geo", Nearest: 1},
		Clusters: []explain.Cluster{
			{Name: "eur", Region: "eu-west-1", Ready: true, Healthy: true, Candidate: true, DistanceKm: ptr.To(9581.2),
				EntryPoints: []explain.EntryPoint{{Address: "127.0.2.1", Healthy: true, Probes: []explain.Probe{{Target: "tcp://127.0.2.1:80", Result: "up", RTTMillis: 0.25}}}}},
			{Name: "jpn", Region: "ap-northeast-1", Ready: true, Healthy: true, Candidate: true, Rank: 1, DistanceKm: ptr.To(2.1),
				Latency:     &explain.Latency{Millis: 0.3, Source: explain.LatencyProbe},
				EntryPoints: []explain.EntryPoint{{Address: "127.0.3.1", Healthy: true, Probes: []explain.Probe{{Target: "tcp://127.0.3.1:80", Result: "up", RTTMillis: 0.3}}}}},
			{Name: "usa", Region: "us-east-1", Ready: false, Healthy: false,
				EntryPoints: []explain.EntryPoint{{Address: "127.0.1.1", Probes: []explain.Probe{{Target: "tcp://127.0.1.1:80", Result: "down"}}}}},
		},
		Answer: explain.Answer{Rcode: "NOERROR", Outcome: "success", TTL: 5, ECSScope: ptr.To(uint8(24)),
			Records: []string{"web.demo.magicring.svc.demo.example.com.\t5\tIN\tA\t127.0.3.1"}},
	}
}

// explainServer is an explain listener that answers sampleReport, and
// records the queries it is asked.
func explainServer(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		if r.URL.Query().Get("name") == "nope.demo.example.com." {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(explain.Error{Error: "the name is not in a zone of this server"})
			return
		}
		json.NewEncoder(w).Encode(sampleReport())
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), queries...)
	}
}

func runExplain(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := NewDNSExplainOptions(nil, streams)
	cmd := &cobra.Command{}
	cmd.SetContext(context.Background())
	o.addFlags(cmd)
	if err := cmd.ParseFlags(args[1:]); err != nil {
		t.Fatal(err)
	}
	if err := o.Complete(cmd, args[:1]); err != nil {
		return "", "", err
	}
	if err := o.Validate(); err != nil {
		return "", "", err
	}
	err := o.Run(context.Background())
	return out.String(), errOut.String(), err
}

func TestDNSExplainTable(t *testing.T) {
	srv, queries := explainServer(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	out, _, err := runExplain(t, "web.demo.magicring.svc.demo.example.com.", "--server", addr, "--ecs", "192.0.2.0/24")
	if err != nil {
		t.Fatal(err)
	}
	want := "Server:   " + addr + "\n" +
		"Query:    web.demo.magicring.svc.demo.example.com. A, from 127.0.0.1, ECS 192.0.2.0/24\n" +
		"Name:     service name in demo.example.com., level global (serial 7)\n" +
		"Client:   192.0.2.0 (from ECS): found in 192.0.2.0/24, Tokyo, JP (35.6895, 139.6917)\n" +
		"Policy:   geo, from the annotation of the Service in eur, nearest 1\n" +
		"Answer:   NOERROR (success), TTL 5, ECS scope /24\n" +
		"          web.demo.magicring.svc.demo.example.com. 5 IN A 127.0.3.1\n" +
		"\n" +
		"CLUSTER   REGION           ZONE   READY   ENTRY POINT   HEALTHY   PROBE                     RTT      DISTANCE   LATENCY         CANDIDATE   RANK\n" +
		"eur       eu-west-1        -      yes     127.0.2.1     yes       up tcp://127.0.2.1:80     0.25ms   9581km     -               yes         -\n" +
		"jpn       ap-northeast-1   -      yes     127.0.3.1     yes       up tcp://127.0.3.1:80     0.3ms    2km        0.3ms (probe)   yes         1\n" +
		"usa       us-east-1        -      no      127.0.1.1     no        down tcp://127.0.1.1:80   -        -          -               no          -\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if q := queries(); len(q) != 1 || q[0] != "/explain?ecs=192.0.2.0%2F24&name=web.demo.magicring.svc.demo.example.com.&type=A" {
		t.Errorf("queries %v", q)
	}
}

func TestDNSExplainOutput(t *testing.T) {
	srv, _ := explainServer(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	out, _, err := runExplain(t, "web.demo.magicring.svc.demo.example.com.", "--server", addr, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got explain.Report
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Server != addr || got.Policy.SourceCluster != "eur" || len(got.Clusters) != 3 || *got.Answer.ECSScope != 24 {
		t.Errorf("report %+v", got)
	}

	// Two servers: a list; yaml holds the same fields.
	out, _, err = runExplain(t, "web.demo.magicring.svc.demo.example.com.", "--server", addr, "--server", addr, "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"items:\n", "sourceCluster: eur\n", "ecsScope: 24\n", "rttMillis: 0.25\n", "distanceKm: 9581.2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("yaml without %q:\n%s", want, out)
		}
	}

	// A server that cannot explain: its error, by name.
	_, _, err = runExplain(t, "nope.demo.example.com.", "--server", addr)
	if err == nil || !strings.Contains(err.Error(), "server "+addr+": the name is not in a zone of this server") {
		t.Errorf("error %v", err)
	}
}

func TestDNSExplainValidate(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--client", "192.0.2.1", "--ecs", "192.0.2.0/24"}, "give --client or --ecs, not both"},
		{[]string{"--client", "here"}, `--client "here" is not an IP address`},
		{[]string{"--ecs", "192.0.2.1"}, `--ecs "192.0.2.1" is not a subnet`},
		{[]string{"--type", "MX"}, `--type must be A, AAAA or SRV, not "MX"`},
		{[]string{"-o", "wide"}, `--output must be json or yaml, not "wide"`},
	} {
		_, _, err := runExplain(t, append([]string{"web.demo.magicring.svc.demo.example.com.", "--server", "127.0.0.1:1"}, tc.args...)...)
		if err == nil || err.Error() != tc.want && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestDNSExplainPods checks the pod path against an API server of the
// test's: the pods are listed, and each asked through the pod proxy.
func TestDNSExplainPods(t *testing.T) {
	pod := func(name string, phase corev1.PodPhase, ports ...corev1.ContainerPort) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kfed-system"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "coredns-fed", Ports: ports}}},
			Status:     corev1.PodStatus{Phase: phase},
		}
	}
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: []corev1.Pod{
		pod("coredns-fed-a", corev1.PodRunning, corev1.ContainerPort{Name: "explain", ContainerPort: 9055}),
		pod("coredns-fed-b", corev1.PodPending),
		pod("coredns-fed-c", corev1.PodRunning),
	}}
	var mu sync.Mutex
	var asked []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/v1/namespaces/kfed-system/pods":
			if sel := r.URL.Query().Get("labelSelector"); sel != "app.kubernetes.io/name=coredns-fed" {
				t.Errorf("label selector %q", sel)
			}
			json.NewEncoder(w).Encode(list)
		case strings.HasSuffix(r.URL.Path, "/proxy/explain"):
			mu.Lock()
			asked = append(asked, r.URL.Path+"?"+r.URL.RawQuery)
			mu.Unlock()
			if strings.Contains(r.URL.Path, "coredns-fed-c") {
				w.WriteHeader(http.StatusServiceUnavailable)
				json.NewEncoder(w).Encode(explain.Error{Error: "the server has not synced with the federation yet"})
				return
			}
			json.NewEncoder(w).Encode(sampleReport())
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()

	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := NewDNSExplainOptions(nil, streams)
	o.Name, o.Output = "web.demo.magicring.svc.demo.example.com.", "json"
	var err error
	if o.targets, err = podTargets(context.Background(), kubernetes.NewForConfigOrDie(&rest.Config{Host: api.URL}).CoreV1().Pods("kfed-system"), "usa", o.ErrOut); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	err = o.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "server kfed-system/coredns-fed-c in usa: the server has not synced") {
		t.Errorf("error %v, want coredns-fed-c's", err)
	}
	if !strings.Contains(errOut.String(), `pod kfed-system/coredns-fed-c declares no "explain" port: asking port 8055`) {
		t.Errorf("warnings %q", errOut.String())
	}
	var got explain.Report
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.Server != "kfed-system/coredns-fed-a in usa" {
		t.Errorf("report of %q, %v: %s", got.Server, err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"/api/v1/namespaces/kfed-system/pods/http:coredns-fed-a:9055/proxy/explain?name=web.demo.magicring.svc.demo.example.com.&type=A",
		"/api/v1/namespaces/kfed-system/pods/http:coredns-fed-c:8055/proxy/explain?name=web.demo.magicring.svc.demo.example.com.&type=A",
	}
	if strings.Join(slices.Sorted(slices.Values(asked)), "\n") != strings.Join(want, "\n") {
		t.Errorf("asked\n%s\nwant\n%s", strings.Join(asked, "\n"), strings.Join(want, "\n"))
	}
}
