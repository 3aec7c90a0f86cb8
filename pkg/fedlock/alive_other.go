//go:build !unix

package fedlock

// alive cannot tell here, so a holder is taken to run until its lock
// expires.
func alive(int) bool { return true }
