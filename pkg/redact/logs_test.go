package redact

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

const (
	testSecretValue = "s3cr3t-v4lue-that-must-not-show"
	// A token shaped as a ServiceAccount token is: three base64url parts.
	testToken = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a2ZlZC1zeXN0ZW06bWFuYWdlciJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
)

// captureKlog sends klog's output, at verbosity v, to a buffer with
// LogFilter installed, and puts klog back as it was when the test ends.
func captureKlog(t *testing.T, v int) *bytes.Buffer {
	t.Helper()
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	saved := map[string]string{}
	set := map[string]string{"v": fmt.Sprint(v), "logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL"}
	for name, value := range set {
		saved[name] = fs.Lookup(name).Value.String()
		if err := fs.Set(name, value); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	klog.SetOutput(&buf)
	klog.SetLogFilter(LogFilter{})
	t.Cleanup(func() {
		klog.Flush()
		klog.SetLogFilter(nil)
		klog.SetOutput(io.Discard)
		for name, value := range saved {
			_ = fs.Set(name, value)
		}
	})
	return &buf
}

// secretServer answers as an API server would for one Secret: as JSON, or
// with bytes that client-go hex-dumps.
func secretServer(t *testing.T) *httptest.Server {
	t.Helper()
	secret := fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"ns"},"data":{"password":%q,"token":%q},"stringData":{"plain":%q}}`,
		base64.StdEncoding.EncodeToString([]byte(testSecretValue)), base64.StdEncoding.EncodeToString([]byte(testToken)), testSecretValue)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/binary" {
			w.Header().Set("Content-Type", "application/octet-stream")
			fmt.Fprintf(w, "k8s\x00\n\x0f%s\x12%s", testSecretValue, testToken)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		fmt.Fprint(w, secret)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestLogFilterHidesBodies drives a real client-go client at -v=10, the
// verbosity at which it logs every body in full, and checks that neither
// the Secret's values nor the bearer token reach the log while the
// requests themselves do.
func TestLogFilterHidesBodies(t *testing.T) {
	buf := captureKlog(t, 10)
	srv := secretServer(t)
	cfg := &rest.Config{Host: srv.URL, BearerToken: testToken}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.CoreV1().Secrets("ns").Get(ctx, "s", metav1.GetOptions{}); err != nil {
		t.Fatalf("get: %v", err)
	}
	create := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, StringData: map[string]string{"plain": testSecretValue}}
	if _, err := cs.CoreV1().Secrets("ns").Create(ctx, create, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := cs.CoreV1().RESTClient().Get().AbsPath("/binary").DoRaw(ctx); err != nil {
		t.Fatalf("raw get: %v", err)
	}
	klog.Flush()
	out := buf.String()

	for _, want := range []string{"Request Body", "Response Body", "curl -v -XGET", "not shown by kubectl fed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q, so the test did not see client-go log at -v=10:\n%s", want, out)
		}
	}
	for _, secret := range []string{
		testSecretValue, base64.StdEncoding.EncodeToString([]byte(testSecretValue)),
		testToken, base64.StdEncoding.EncodeToString([]byte(testToken)),
		testSecretValue[:12], testToken[:16], // the start of a value, as a hex dump's text column would show it
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q:\n%s", secret, out)
		}
	}
}

func TestLogFilterScrubsTokens(t *testing.T) {
	var f LogFilter
	msg, kvs := f.FilterS("Request", []any{"err", errors.New("Unauthorized: " + testToken), "n", 3, "s", "bearer " + testToken})
	if strings.Contains(fmt.Sprint(msg, kvs), testToken) {
		t.Errorf("FilterS kept the token: %v", kvs)
	}
	if kvs[3] != 3 {
		t.Errorf("FilterS changed a number: %v", kvs)
	}
	if got := f.Filter([]any{"token " + testToken}); strings.Contains(fmt.Sprint(got...), testToken) {
		t.Errorf("Filter kept the token: %v", got)
	}
	format, args := f.FilterF("%s "+testToken, []any{testToken})
	if strings.Contains(format+fmt.Sprint(args...), testToken) {
		t.Errorf("FilterF kept the token: %q %v", format, args)
	}
	in := []any{"body", testSecretValue}
	if _, out := f.FilterS("Response Body", in); strings.Contains(fmt.Sprint(out...), testSecretValue) || in[1] != testSecretValue {
		t.Errorf("FilterS kept the body or changed its caller's slice: %v, %v", out, in)
	}
	if _, out := f.FilterS("Something else", in); out[1] != testSecretValue {
		t.Errorf("FilterS hid a value that is not a body nor a token: %v", out)
	}
}
