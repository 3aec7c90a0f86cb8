package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The user the image runs as: the conventional "nonroot" of distroless
// images, which deploy/coredns-fed's security context names too.
const (
	NonrootUID  = 65532
	NonrootName = "nonroot"
)

// CABundlePath is where Go's crypto/x509 looks first for the system's
// roots on Linux, and where Debian's ca-certificates puts them.
const CABundlePath = "etc/ssl/certs/ca-certificates.crt"

// baseFiles returns the files of the image's base layer: the user and group
// databases with root and nonroot, nonroot's home, and the CA bundle. No
// shell and no package manager: the binary is static and needs nothing
// else. Everything is owned by root but nonroot's home.
func baseFiles(caBundle []byte) []File {
	dir := func(p string) File { return File{Path: p, Mode: fs.ModeDir | 0o755} }
	file := func(p, data string) File { return File{Path: p, Mode: 0o644, Data: []byte(data)} }
	return []File{
		dir("etc"),
		file("etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%[1]s:x:%[2]d:%[2]d:%[1]s:/home/%[1]s:/sbin/nologin\n", NonrootName, NonrootUID)),
		file("etc/group", fmt.Sprintf("root:x:0:\n%s:x:%d:\n", NonrootName, NonrootUID)),
		dir("etc/ssl"),
		dir("etc/ssl/certs"),
		{Path: CABundlePath, Mode: 0o644, Data: caBundle},
		dir("home"),
		{Path: "home/" + NonrootName, Mode: fs.ModeDir | 0o700, UID: NonrootUID, GID: NonrootUID},
	}
}

// MozillaRoots returns the roots of Mozilla's NSS trust store as a PEM
// bundle, from golang.org/x/crypto/x509roots/fallback/bundle at the version
// go.mod pins. The bundle is thus the same on every build machine, and it
// moves only with a `go get` of that module, which shows in review; the
// build machine's own /etc/ssl/certs would tie the image's digest to
// whatever the machine has installed.
//
// Roots that NSS trusts only with a constraint (distrust of certificates
// issued after a date) are left out: a PEM file cannot carry the
// constraint, and trusting them without it would trust more than Mozilla
// does.
func MozillaRoots() ([]byte, error) {
	var b strings.Builder
	n := 0
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		sum := sha256.Sum256(root.Certificate)
		fmt.Fprintf(&b, "# sha256 %s\n", hex.EncodeToString(sum[:]))
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, err
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("the x509roots bundle holds no unconstrained root")
	}
	return []byte(b.String()), nil
}
