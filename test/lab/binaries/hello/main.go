// Command hello is the lab's sample app, run as pods on real lab nodes. It
// answers GET / over HTTP, and echoes UDP datagrams, naming the pod,
// namespace and node that answered, so that a test sees where a load
// balancer sent it. On SIGTERM it keeps serving for -lameduck, the time the
// load balancer takes to stop sending it new traffic, then finishes the
// requests in flight and exits.
//
// The pod's names come from the environment (the downward API): POD_NAME
// (else the hostname, which is the pod's name), POD_NAMESPACE and
// NODE_NAME.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// nodeHeader names the node that answered an HTTP request.
const nodeHeader = "X-Kfed-Lab-Node"

// identity names where the program runs.
type identity struct{ pod, namespace, node string }

func main() {
	httpPort := flag.Int("http-port", 8080, "TCP port of the HTTP server")
	udpPort := flag.Int("udp-port", 8053, "UDP port of the echo; 0 turns it off")
	lameduck := flag.Duration("lameduck", 3*time.Second, "how long to keep serving after SIGTERM")
	flag.Parse()
	log.SetFlags(0)

	id := identity{pod: os.Getenv("POD_NAME"), namespace: os.Getenv("POD_NAMESPACE"), node: os.Getenv("NODE_NAME")}
	if id.pod == "" {
		id.pod, _ = os.Hostname()
	}

	srv := &http.Server{
		Addr:              ":" + strconv.Itoa(*httpPort),
		Handler:           handler(id),
		ReadHeaderTimeout: 5 * time.Second,
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		log.Fatalf("hello: %v", err)
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("hello: %v", err)
		}
	}()
	var udp net.PacketConn
	if *udpPort != 0 {
		if udp, err = net.ListenPacket("udp", ":"+strconv.Itoa(*udpPort)); err != nil {
			log.Fatalf("hello: %v", err)
		}
		go echo(udp, id.pod)
	}
	log.Printf("hello: pod %s serving HTTP on %s, UDP on %d", id.pod, srv.Addr, *udpPort)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	log.Printf("hello: terminating; serving %s more", *lameduck)
	time.Sleep(*lameduck)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	if udp != nil {
		_ = udp.Close()
	}
}

// handler answers GET / with the identity, and /healthz with 200.
func handler(id identity) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set(nodeHeader, id.node)
		fmt.Fprintf(w, "pod: %s\nnamespace: %s\nnode: %s\n", id.pod, id.namespace, id.node)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// echo answers every datagram with the pod's name, ": " and the datagram,
// until conn is closed.
func echo(conn net.PacketConn, pod string) {
	prefix := []byte(pod + ": ")
	buf := make([]byte, 64<<10)
	for {
		n, from, err := conn.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		_, _ = conn.WriteTo(append(prefix[:len(prefix):len(prefix)], buf[:n]...), from)
	}
}
