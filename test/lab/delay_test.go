package lab

import (
	"io"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestSetDelay(t *testing.T) {
	lb := &loadBalancer{cluster: "usa", log: &lbLogWriter{w: io.Discard}, delays: map[[2]netip.Addr]time.Duration{}}
	addr := netip.MustParseAddr("127.1.2.3")
	h := lb.handler(&lbService{namespace: "demo", name: "web", addr: addr})
	took := func(remote string) time.Duration {
		req := httptest.NewRequest("GET", "http://127.1.2.3:8080/", nil)
		req.RemoteAddr = remote
		start := time.Now()
		h.ServeHTTP(httptest.NewRecorder(), req)
		return time.Since(start)
	}
	const d = 100 * time.Millisecond
	lb.SetDelay(addr, netip.MustParseAddr("127.0.0.11"), d)
	if got := took("127.0.0.11:4000"); got < d {
		t.Errorf("delayed client answered in %s", got)
	}
	if got := took("127.0.0.12:4000"); got >= d {
		t.Errorf("other client answered in %s", got)
	}
	lb.SetDelay(addr, netip.Addr{}, d)
	if got := took("127.0.0.12:4000"); got < d {
		t.Errorf("every-client delay: answered in %s", got)
	}
	lb.SetDelay(addr, netip.Addr{}, 0)
	lb.SetDelay(addr, netip.MustParseAddr("127.0.0.11"), 0)
	if got := took("127.0.0.11:4000"); got >= d {
		t.Errorf("after removing the delays: answered in %s", got)
	}
}
