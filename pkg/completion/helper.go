// Package completion writes the program through which kubectl completes
// kubectl fed's arguments.
//
// kubectl (1.26 and later) completes `kubectl fed <TAB>` by running the
// program kubectl_complete-fed, found on PATH, with the words typed so far.
// That program only has to hand them to kubectl-fed's hidden __complete
// command, which cobra answers from the command tree.
package completion

// Name is the helper's file name on goos: kubectl finds a .cmd on windows
// through PATHEXT.
func Name(goos string) string {
	if goos == "windows" {
		return "kubectl_complete-fed.cmd"
	}
	return "kubectl_complete-fed"
}

// Script is the helper's content on goos. It runs kubectl-fed from PATH
// rather than from a fixed place, so it keeps working when an upgrade
// moves kubectl-fed (krew installs each version in a directory of its own).
func Script(goos string) string {
	if goos == "windows" {
		return "@kubectl-fed.exe __complete %*\r\n"
	}
	return "#!/bin/sh\nexec kubectl-fed __complete \"$@\"\n"
}
