package dnsserver

import (
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSetTokenExpiry(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	exp := time.Date(2026, 12, 30, 7, 0, 0, 0, time.UTC)
	bound := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"iat":1764486000,"exp":`+strconv.FormatInt(exp.Unix(), 10)+`}`)) + ".sig"
	legacy := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"sub":"system:serviceaccount:kfed-system:kfed-dns-reader"}`)) + ".sig"

	setTokenExpiry("dns://:53", "eur", bound)
	if got := testutil.ToFloat64(readerTokenExpiry.WithLabelValues("dns://:53", "eur")); got != float64(exp.Unix()) {
		t.Errorf("expiry of a bound token = %v, want %d", got, exp.Unix())
	}
	setTokenExpiry("dns://:53", "eur", legacy)
	if n := testutil.CollectAndCount(readerTokenExpiry); n != 0 {
		t.Errorf("a token that never expires leaves %d series, want none", n)
	}
	setTokenExpiry("dns://:53", "jpn", bound)
	forgetMember("dns://:53", "jpn")
	if n := testutil.CollectAndCount(readerTokenExpiry); n != 0 {
		t.Errorf("a member that left keeps %d series, want none", n)
	}
}
