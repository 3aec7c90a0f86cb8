package conform

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Reasons a query is refused, the reason label of rejected_total. Each is
// listed, with the rcode and the RFC it follows, in README.md.
const (
	reasonOpcode           = "opcode"
	reasonQuestionCount    = "question_count"
	reasonMultipleOPT      = "multiple_opt"
	reasonOPTName          = "opt_name"
	reasonECS              = "ecs"
	reasonCookie           = "cookie"
	reasonNotAuthoritative = "not_authoritative"
)

var (
	rejected = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "rejected_total",
		Help:      "Queries refused before any data plugin answered them, by reason (opcode, question_count, multiple_opt, opt_name, ecs, cookie, not_authoritative).",
	}, []string{"server", "reason"})

	// malformed has no server label: miekg/dns reports these messages
	// through a process-wide hook that does not say which server got them.
	malformed = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "malformed_total",
		Help:      "Queries that could not be parsed (such as a malformed EDNS option), answered FORMERR by miekg/dns.",
	})
)
