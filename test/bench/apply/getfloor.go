package main

// The floor of the get part: how long the members alone take to answer
// the lists that kubectl fed get svc -A makes, every member at once. No
// client can show the table sooner, and on a machine whose cores the
// members share, that time is set by the cores, not by kfed.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/test/lab"
)

// The request kubectl fed get svc -A makes of each member, as kubectl get
// makes it: the server's table, in chunks of the plugin's default
// --chunk-size, a consistent read.
const (
	getAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
	getChunk  = 500
)

// listFloor lists every Service of each cluster, all clusters at once, as
// the plugin asks for them, and returns how long the slowest took. Bodies
// are read and dropped: nothing is decoded but each page's continue token.
// Each call connects afresh, as each run of the plugin does.
func listFloor(ctx context.Context, clusters []*lab.Cluster) (time.Duration, error) {
	clients := make([]*http.Client, len(clusters))
	for i, c := range clusters {
		hc, err := rest.HTTPClientFor(c.RESTConfig())
		if err != nil {
			return 0, err
		}
		clients[i] = hc
	}
	errs := make([]error, len(clusters))
	var wg sync.WaitGroup
	begin := time.Now()
	for i, c := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = listServices(ctx, clients[i], c.RESTConfig().Host)
		}()
	}
	wg.Wait()
	took := time.Since(begin)
	for i, err := range errs {
		if err != nil {
			return 0, fmt.Errorf("listing the Services of %s: %w", clusters[i].Name, err)
		}
	}
	return took, nil
}

// listServices reads every page of the Services of one cluster.
func listServices(ctx context.Context, hc *http.Client, host string) error {
	cont := ""
	for {
		q := url.Values{"limit": {strconv.Itoa(getChunk)}}
		if cont != "" {
			q.Set("continue", cont)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, host+"/api/v1/services?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", getAccept)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %.200s", resp.Status, body)
		}
		if cont, err = continueOf(body); err != nil || cont == "" {
			return err
		}
	}
}

// continueOf returns the continue token of a list or table, which the
// server writes in its metadata, ahead of the items: only the head of the
// body is decoded.
func continueOf(body []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", fmt.Errorf("not a JSON object: %.40q", body)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", err
		}
		if t != "metadata" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return "", err
			}
			continue
		}
		var m struct {
			Continue string `json:"continue"`
		}
		err = dec.Decode(&m)
		return m.Continue, err
	}
	return "", nil
}
