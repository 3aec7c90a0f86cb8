package dnsserver

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/explain"
)

// ServeHTTP answers GET /explain?name=NAME&type=TYPE with client=IP or
// ecs=SUBNET: how the server answers that query, as JSON (explain.Report).
// Without client, the query is taken to come from the HTTP client's
// address.
func (l *explainListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		explainError(w, http.StatusMethodNotAllowed, errors.New("only GET is allowed"))
		return
	}
	q, err := explainQueryOf(r)
	if err != nil {
		explainError(w, http.StatusBadRequest, err)
		return
	}
	f := l.fedFor(strings.ToLower(q.name))
	if f == nil {
		explainError(w, http.StatusNotFound, errNotInZone)
		return
	}
	rep, err := f.explain(q)
	switch {
	case errors.Is(err, errNotSynced):
		explainError(w, http.StatusServiceUnavailable, err)
		return
	case err != nil:
		explainError(w, http.StatusNotFound, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(rep)
}

// explainQueryOf reads the query's parameters.
func explainQueryOf(r *http.Request) (explainQuery, error) {
	v := r.URL.Query()
	q := explainQuery{name: dns.Fqdn(v.Get(explain.ParamName)), qtype: dns.TypeA}
	if _, ok := dns.IsDomainName(q.name); !ok || q.name == "." {
		return q, errors.New("name must be a domain name")
	}
	if t := v.Get(explain.ParamType); t != "" {
		qtype, ok := dns.StringToType[strings.ToUpper(t)]
		if !ok {
			return q, errors.New("type " + t + " is not a DNS record type")
		}
		q.qtype = qtype
	}
	if s := v.Get(explain.ParamClient); s != "" {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return q, errors.New("client " + s + " is not an IP address")
		}
		q.source = a.Unmap()
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			q.source = a.Unmap()
		}
	}
	if s := v.Get(explain.ParamECS); s != "" {
		p, err := parseSubnet(s)
		if err != nil {
			return q, err
		}
		q.ecs = p
	}
	return q, nil
}

// parseSubnet reads an ECS subnet: a prefix, or an address taken whole.
func parseSubnet(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("ecs " + s + " is not a subnet such as 192.0.2.0/24")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errors.New("ecs " + s + " is not a subnet such as 192.0.2.0/24")
	}
	return netip.PrefixFrom(p.Addr().Unmap(), min(p.Bits(), p.Addr().Unmap().BitLen())), nil
}

func explainError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(explain.Error{Error: err.Error()})
}
