package dnsserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/dnssec"
)

const (
	snapHost = "https://127.0.0.1:6443"
	// snapToken stands for the token in a reader's kubeconfig, which must
	// never show in a message.
	snapToken = "c2VjcmV0LXRva2VuLW5ldmVyLWxvZ2dlZA"
)

func snapState() hostState {
	return hostState{serial: 1700000000, members: []hostMember{
		{
			cluster:    Cluster{Name: "usa", Region: "us-east-1", Zone: "us-east-1a", Location: Location{Latitude: 38.9, Longitude: -77.4, Known: true}},
			secret:     "kfed-dns/usa-dns-reader",
			kubeconfig: []byte("apiVersion: v1\nkind: Config\nusers:\n- name: r\n  user:\n    token: " + snapToken + "\n"),
			services: []servedService{{Ready: true, Service: recordOf(&corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Annotations: map[string]string{AnnotationHealthCheckPath: "/healthz"}},
				Spec: corev1.ServiceSpec{
					Type:  corev1.ServiceTypeLoadBalancer,
					Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 8080}},
				},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "127.0.1.1"}}}},
			})}},
		},
		// A missing Secret stays missing, and one without a kubeconfig
		// stays without one; unknown services stay unknown, and none
		// stays none.
		{cluster: Cluster{Name: "eur", Region: "eu-west-1"}, secret: "kfed-dns/eur-dns-reader"},
		{cluster: Cluster{Name: "jpn"}, secret: "kfed-dns/jpn-dns-reader", kubeconfig: []byte{}, services: []servedService{}},
	}, keySet: []byte(`{"keys":[]}`), snapshot: true}
}

func TestSnapshotRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snapshot")
	want := snapState()
	for range 2 {
		// The second write replaces the first.
		data, err := encodeSnapshot("magicring", snapHost, want)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeSnapshot(path, data); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: the snapshot holds tokens", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only the snapshot: a temporary file was left", len(entries))
	}
	got, _, err := readSnapshot(path, "magicring", snapHost)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
}

func TestSnapshotBad(t *testing.T) {
	compact, err := encodeSnapshot("magicring", snapHost, snapState())
	if err != nil {
		t.Fatal(err)
	}
	// Indented, which reads the same, for the edits below to find.
	var indented bytes.Buffer
	if err := json.Indent(&indented, compact, "", "  "); err != nil {
		t.Fatal(err)
	}
	good := indented.Bytes()
	// The token is base64 inside the JSON: break the encoding right there.
	i := strings.Index(string(good), `"kubeconfig": "`) + len(`"kubeconfig": "`)
	badBase64 := string(good[:i]) + "!!" + string(good[i:])
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "not a snapshot: malformed JSON"},
		{"truncated", string(good[:len(good)/2]), "not a snapshot: malformed JSON"},
		{"garbage", "\x00\x01 not json " + snapToken, "not a snapshot: malformed JSON at byte 1"},
		{"base64", badBase64, "not a snapshot: malformed JSON"},
		{"type", `{"version": "1"}`, `field "version" has the wrong type`},
		{"version", strings.Replace(string(good), `"version": 1`, `"version": 2`, 1), "version 2, and this coredns-fed reads version 1"},
		{"no version", `{"federation": "magicring"}`, "version 0"},
		{"federation", strings.Replace(string(good), `"magicring"`, `"other"`, 1), `of federation "other", not "magicring"`},
		{"host", strings.Replace(string(good), snapHost, "https://192.0.2.1", 1), "of the host at https://192.0.2.1"},
		{"serial", strings.Replace(string(good), `"serial": 1700000000`, `"serial": 0`, 1), "no serial"},
		{"name", strings.Replace(string(good), `"name": "eur"`, `"name": "usa"`, 1), "cluster 2 has an empty or repeated name"},
		{"no name", strings.Replace(string(good), `"name": "eur"`, `"name": ""`, 1), "cluster 2 has an empty or repeated name"},
		{"null service", strings.Replace(string(good), `"services": []`, `"services": [null]`, 1), "a service of cluster jpn is null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "snapshot")
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := readSnapshot(path, "magicring", snapHost)
			if err == nil {
				t.Fatal("read without an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), snapToken) || strings.Contains(err.Error(), "token") {
				t.Errorf("error %q quotes the file", err)
			}
		})
	}

	_, _, err = readSnapshot(filepath.Join(t.TempDir(), "none"), "magicring", snapHost)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestLoadSnapshotIgnoresBadFile: a corrupt snapshot leaves the controller
// without one, and it goes on.
func TestLoadSnapshotIgnoresBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snapshot")
	if err := os.WriteFile(path, []byte(`{"version": 1, "federation": "magicring", "clusters": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := New("magicring", []string{"demo.example.com."}).Watch
	opts.Snapshot = path
	c, err := newController("magicring", opts, &rest.Config{Host: snapHost}, "dns://:53")
	if err != nil {
		t.Fatal(err)
	}
	if c.snap != nil {
		t.Errorf("a corrupt snapshot was read: %+v", c.snap)
	}
	if _, known := c.hostState(); known {
		t.Error("the host's state is known with neither the host nor a snapshot")
	}
}

func TestParseSnapshot(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		arg, want, err string
	}{
		{arg: dir + "/snapshot", want: dir + "/snapshot"},
		{arg: dir + "/none/snapshot", err: "does not exist"},
		{arg: dir, err: "is a directory"},
		{arg: dir + "/a " + dir + "/b", err: "takes one argument"},
	} {
		c := caddy.NewTestController("dns", "fed magicring {\n ns ns1.example.net\n snapshot "+tc.arg+"\n}")
		c.ServerBlockKeys = []string{"demo.example.com"}
		f, err := parse(c)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("snapshot %s: error %v, want one saying %q", tc.arg, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("snapshot %s: %v", tc.arg, err)
		case tc.err == "" && f.Watch.Snapshot != tc.want:
			t.Errorf("snapshot %s: %q", tc.arg, f.Watch.Snapshot)
		}
	}
}

// TestHostState: the serial is the Federation's creation time, whenever
// the caches were filled, and the members carry their credentials.
func TestHostState(t *testing.T) {
	h := newHostWatch(testStore(t), "magicring", func() {})
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	add := func(inf cache.SharedIndexInformer, obj any) {
		t.Helper()
		if err := inf.GetStore().Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	if st := h.state(); st.serial != 0 || len(st.members) != 0 {
		t.Errorf("empty caches: %+v", st)
	}
	add(h.federation, &v1alpha1.Federation{ObjectMeta: metav1.ObjectMeta{Namespace: "kfed-system", Name: "magicring", CreationTimestamp: metav1.NewTime(created)}})
	cluster := func(name, fed string) *v1alpha1.Cluster {
		cl := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "kfed-system", Name: name}}
		cl.Spec.Federation, cl.Spec.Region = fed, "eu-west-1"
		cl.Spec.Credentials.DNSReader.Name = name + "-dns-reader"
		return cl
	}
	add(h.clusters, cluster("eur", "magicring"))
	add(h.clusters, cluster("jpn", "magicring"))
	add(h.clusters, cluster("other", "elsewhere"))
	add(h.secrets, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kfed-dns", Name: "eur-dns-reader", Labels: map[string]string{v1alpha1.LabelIdentity: v1alpha1.IdentityDNSReader}},
		Data:       map[string][]byte{v1alpha1.SecretKeyKubeconfig: []byte("kubeconfig")},
	})
	// The key set's Secret is the key set, and no member's credential,
	// even for a Cluster that names it.
	add(h.clusters, func() *v1alpha1.Cluster {
		cl := cluster("sneaky", "magicring")
		cl.Spec.Credentials.DNSReader.Name = dnssec.SecretName
		return cl
	}())
	add(h.secrets, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kfed-dns", Name: dnssec.SecretName, Labels: map[string]string{v1alpha1.LabelIdentity: dnssec.IdentityDNSSEC}},
		Data:       map[string][]byte{dnssec.SecretKey: []byte("keys"), v1alpha1.SecretKeyKubeconfig: []byte("not a kubeconfig")},
	})

	st := h.state()
	if st.serial != uint32(created.Unix()) {
		t.Errorf("serial %d, want the Federation's creation time %d", st.serial, created.Unix())
	}
	if len(st.members) != 3 {
		t.Fatalf("members %+v, want eur, jpn and sneaky", st.members)
	}
	if string(st.keySet) != "keys" {
		t.Errorf("key set %q, want the Secret's", st.keySet)
	}
	byName := map[string]hostMember{}
	for _, m := range st.members {
		byName[m.cluster.Name] = m
	}
	if m := byName["eur"]; string(m.kubeconfig) != "kubeconfig" || m.secret != "kfed-dns/eur-dns-reader" || !m.cluster.Location.Known {
		t.Errorf("eur: %+v", m)
	}
	if m := byName["jpn"]; m.kubeconfig != nil {
		t.Errorf("jpn, whose Secret is missing: %+v", m)
	}
	if m := byName["sneaky"]; m.kubeconfig != nil {
		t.Errorf("a Cluster naming the key set's Secret got a credential from it: %+v", m)
	}
}
