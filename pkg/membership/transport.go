package membership

import (
	"fmt"
	"net/url"
)

// CheckTransport refuses to give a token to a server that would receive it
// in clear (http://) or without verifying who it is (skip-TLS-verify):
// anyone on the path could read the token and act with it. what names
// where the server comes from, for the message; fix says what to do.
func CheckTransport(what, server string, skipVerify bool, fix string) error {
	u, err := url.Parse(server)
	switch {
	case err != nil || u.Host == "":
		return fmt.Errorf("%s: server %q is not a URL such as https://203.0.113.10:6443", what, server)
	case u.Scheme != "https":
		return fmt.Errorf("%s: server %s is plain %s, so the token kfed stores for it would travel in clear and anyone on the path could steal it; %s",
			what, server, u.Scheme, fix)
	case skipVerify:
		return fmt.Errorf("%s: insecure-skip-tls-verify is set, so the token kfed stores for %s would go to whoever answers at that address, and could be stolen on the path; %s",
			what, server, fix)
	}
	return nil
}
