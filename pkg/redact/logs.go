package redact

import (
	"fmt"
	"regexp"

	"k8s.io/klog/v2"
)

// bodyMessages are the messages with which client-go's rest package logs
// what it sends and receives, from -v=8 on, in full at -v=10 (hex-dumped
// when the body is protobuf).
var bodyMessages = map[string]bool{
	"Request Body":  true,
	"Response Body": true,
}

// jwt matches a JSON Web Token, the form of every ServiceAccount token:
// three base64url parts, the first the encoding of `{"`.
var jwt = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}`)

// hiddenToken replaces a token found in a log entry.
const hiddenToken = "<token not shown>"

// LogFilter is a klog.LogFilter that keeps Secret data and tokens out of
// klog's output. It hides the body of every request and response that
// client-go logs: any of them may be a Secret, a kubeconfig stored in
// one, a TokenRequest's token or a manifest with Secret data, and a
// truncated, possibly hex-dumped body cannot be told safe. The verb, URL,
// status and timing of each request stay in the log. As a second line, it
// replaces anything shaped like a ServiceAccount token in the other values
// it is given. client-go itself masks the Authorization header, in the
// header dumps and in the curl commands of -v=9.
//
// klog applies its filter to every entry, whether logged through klog's
// functions or through the logr.Logger that klog.FromContext returns, so
// requests made with any context are covered.
type LogFilter struct{}

var _ klog.LogFilter = LogFilter{}

// Filter hides tokens in the arguments of klog.Info and its kin.
func (LogFilter) Filter(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = scrub(a)
	}
	return out
}

// FilterF hides tokens in the format and arguments of klog.Infof and its
// kin.
func (f LogFilter) FilterF(format string, args []any) (string, []any) {
	return jwt.ReplaceAllString(format, hiddenToken), f.Filter(args)
}

// FilterS hides the bodies of client-go's request logs, and tokens in the
// values of any structured entry.
func (LogFilter) FilterS(msg string, keysAndValues []any) (string, []any) {
	isBody := bodyMessages[msg]
	out := make([]any, len(keysAndValues))
	copy(out, keysAndValues)
	for i := 1; i < len(out); i += 2 {
		if isBody && out[i-1] == "body" {
			out[i] = hiddenBody(out[i])
			continue
		}
		out[i] = scrub(out[i])
	}
	return jwt.ReplaceAllString(msg, hiddenToken), out
}

// hiddenBody stands in for a logged body, keeping only its size.
func hiddenBody(v any) string {
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	return fmt.Sprintf("<%d characters not shown by kubectl fed: bodies may hold Secret data or tokens>", len(s))
}

// scrub returns v with anything shaped like a token replaced, for the
// strings and errors that may quote one; other values are left as they
// are.
func scrub(v any) any {
	switch v := v.(type) {
	case string:
		return jwt.ReplaceAllString(v, hiddenToken)
	case error:
		if s := v.Error(); jwt.MatchString(s) {
			return jwt.ReplaceAllString(s, hiddenToken)
		}
	}
	return v
}
