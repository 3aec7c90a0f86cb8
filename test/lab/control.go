package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// The control API lets the command line drive a lab that a long-running
// supervisor (`kfed-lab up`) holds: fault injection and status. It is plain
// HTTP over a unix socket in the lab's directory, so only the lab's owner can
// reach it and no network port is opened.

// ControlHandler serves the control API for l. stop is called, once, when a
// client asks the supervisor to shut the lab down.
func ControlHandler(l *Lab, stop func()) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(l.Status())
	})
	mux.HandleFunc("POST /clusters/{name}/apiserver/{action}", func(w http.ResponseWriter, r *http.Request) {
		c := l.Cluster(r.PathValue("name"))
		if c == nil {
			http.Error(w, fmt.Sprintf("no cluster %q in this lab", r.PathValue("name")), http.StatusNotFound)
			return
		}
		var err error
		switch r.PathValue("action") {
		case "stop":
			err = c.StopAPIServer()
		case "start":
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
			defer cancel()
			err = c.StartAPIServer(ctx)
		case "freeze":
			err = c.FreezeAPIServer()
		case "thaw":
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
			defer cancel()
			err = c.ThawAPIServer(ctx)
		default:
			http.Error(w, "action must be stop, start, freeze or thaw", http.StatusBadRequest)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /loadbalancers/{addr}/{action}", func(w http.ResponseWriter, r *http.Request) {
		addr, err := netip.ParseAddr(r.PathValue("addr"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		down, err := strconv.ParseBool(map[string]string{"down": "true", "up": "false"}[r.PathValue("action")])
		if err != nil {
			http.Error(w, "action must be down or up", http.StatusBadRequest)
			return
		}
		if err := l.SetLoadBalancerDown(addr, down); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
		}
	})
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		stop()
	})
	return mux
}

// ControlClient talks to a lab supervisor over its unix socket.
type ControlClient struct {
	socket string
	http   *http.Client
}

// NewControlClient returns a client for the supervisor listening on socket.
func NewControlClient(socket string) *ControlClient {
	return &ControlClient{
		socket: socket,
		http: &http.Client{
			Timeout: 3 * time.Minute,
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", socket)
				},
			},
		},
	}
}

// Status returns the lab's clusters.
func (c *ControlClient) Status() ([]ClusterStatus, error) {
	body, err := c.do(http.MethodGet, "/status")
	if err != nil {
		return nil, err
	}
	var st []ClusterStatus
	return st, json.Unmarshal(body, &st)
}

// APIServer acts on one cluster's API server; action is "stop", "start",
// "freeze" or "thaw".
func (c *ControlClient) APIServer(cluster, action string) error {
	_, err := c.do(http.MethodPost, "/clusters/"+cluster+"/apiserver/"+action)
	return err
}

// LoadBalancer takes a load-balancer address "down" or brings it "up".
func (c *ControlClient) LoadBalancer(addr, action string) error {
	_, err := c.do(http.MethodPost, "/loadbalancers/"+addr+"/"+action)
	return err
}

// Stop asks the supervisor to stop the lab and exit.
func (c *ControlClient) Stop() error {
	_, err := c.do(http.MethodPost, "/stop")
	return err
}

func (c *ControlClient) do(method, path string) ([]byte, error) {
	req, err := http.NewRequest(method, "http://lab"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			return nil, fmt.Errorf("no lab supervisor answers on %s: is the lab up? (%v)", c.socket, opErr.Err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", string(body))
	}
	return body, nil
}
