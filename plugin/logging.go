package plugin

import (
	"k8s.io/klog/v2"

	"github.com/kfed-dev/kfed/pkg/redact"
)

// Every command of kubectl fed reads credentials and may carry Secrets, and
// client-go logs request and response bodies in full from -v=8 on: the
// filter hides them, and anything shaped like a token, from every log
// entry, whatever context a request was made with. klog's filter must be
// set before anything logs, so it is set when the package is loaded, ahead
// of any command.
func init() {
	klog.SetLogFilter(redact.LogFilter{})
}
