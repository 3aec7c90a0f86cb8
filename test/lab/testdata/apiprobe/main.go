// Command apiprobe checks, from inside a pod, that the pod reaches its
// cluster's API server the way in-cluster clients do: through the
// `kubernetes` Service, with the pod's ServiceAccount token, verifying the
// server against the mounted CA. It prints one line per attempt and then
// sleeps, so the real-node test reads the result with `kubectl logs`; with
// the argument "once" it exits after the first success, for `kubectl exec`.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"

func main() {
	for i := 0; i < 30; i++ {
		body, err := version()
		if err == nil {
			fmt.Printf("apiserver ok: %s\n", strings.Join(strings.Fields(body), " "))
			if len(os.Args) > 1 && os.Args[1] == "once" {
				return
			}
			break
		}
		fmt.Printf("apiserver error: %v\n", err)
		time.Sleep(time.Second)
	}
	select {}
}

func version() (string, error) {
	ca, err := os.ReadFile(sa + "ca.crt")
	if err != nil {
		return "", err
	}
	token, err := os.ReadFile(sa + "token")
	if err != nil {
		return "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	url := "https://" + net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")) + "/version"
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, b)
	}
	return string(b), err
}
