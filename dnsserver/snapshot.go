package dnsserver

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/coredns/caddy"
)

// The snapshot is the last state of the federation that the host gave, and
// what each member served when last seen, kept in a local file so that a
// server restarted while the host cannot be reached still knows its
// members, how to watch them, and what to answer for one whose API server
// is down too (the host's own, often). It holds the DNS-reader
// kubeconfigs, tokens included: it is written with mode 0600, and neither
// it nor any part of it is ever logged.

// snapshotVersion is the version of the snapshot's format. A file of
// another version is ignored.
const snapshotVersion = 1

// maxSnapshotSize bounds what is read, in case the path names something
// that is not a snapshot at all.
const maxSnapshotSize = 64 << 20

// snapshotFile is the snapshot's format, in JSON.
type snapshotFile struct {
	Version    int    `json:"version"`
	Federation string `json:"federation"`
	// Host is the host's API server: a snapshot of another host's
	// federation of the same name is not used.
	Host string `json:"host"`
	// Serial is the Federation's creation time, in unix seconds.
	Serial   uint32            `json:"serial"`
	Clusters []snapshotCluster `json:"clusters"`
	// DNSSEC is the key set, when the zone is signed with the host's: a
	// server that starts while the host is down signs with it.
	DNSSEC []byte `json:"dnssec,omitempty"`
}

// snapshotCluster is one member and its DNS-reader credential.
type snapshotCluster struct {
	Name      string   `json:"name"`
	Region    string   `json:"region,omitempty"`
	Zone      string   `json:"zone,omitempty"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
	// CredentialSecret is the namespace/name of the credential Secret.
	CredentialSecret string `json:"credentialSecret"`
	// Kubeconfig is the Secret's kubeconfig, null when the Secret was
	// missing.
	Kubeconfig []byte `json:"kubeconfig"`
	// Services are the member's served Services as last seen, null when
	// they were never seen: a member whose API server cannot be reached
	// either is answered from them while its probes pass.
	Services []servedService `json:"services"`
}

// parseSnapshotPath reads snapshot PATH. The directory must exist, so that
// a mistyped path shows at once rather than at the first write.
func parseSnapshotPath(c *caddy.Controller, args []string) (string, error) {
	if len(args) != 1 {
		return "", c.Errf("snapshot takes one argument, got %d", len(args))
	}
	path := filepath.Clean(args[0])
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return "", c.Errf("snapshot %q: its directory %s does not exist", args[0], filepath.Dir(path))
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return "", c.Errf("snapshot %q is a directory: name a file in it", args[0])
	}
	return path, nil
}

// loadSnapshot reads the snapshot, if the Corefile names one. A snapshot
// that cannot be used is logged and ignored: the host will tell.
func (c *controller) loadSnapshot() {
	path := c.opts.Snapshot
	if path == "" {
		return
	}
	st, data, err := readSnapshot(path, c.federation, c.hostURL)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Infof("No snapshot at %s yet: federation %s is known once the host answers", path, c.federation)
		return
	case err != nil:
		log.Warningf("Ignoring the snapshot %s: %v", path, err)
		return
	}
	c.snap, c.snapSum = &st, sha256.Sum256(data)
	log.Infof("Read the snapshot %s: federation %s, %d clusters, serial %d; it stands for the host until the host answers",
		path, c.federation, len(st.members), st.serial)
}

// snapshotEvery spaces the snapshot's writes: what members serve may
// change often, and a snapshot a moment old does as well. A large
// federation's snapshot takes a while to encode and write, so writes are
// also spaced by snapshotSpacing times the last one's cost: writing then
// takes at most 1/snapshotSpacing of the time, however large it grows.
const (
	snapshotEvery   = 2 * time.Second
	snapshotSpacing = 20
)

// saveSnapshot writes the snapshot when the host or a member changed, at
// most every snapshotEvery. The host's part is what the host said, read
// from its caches or kept from the snapshot, never made up.
func (c *controller) saveSnapshot() {
	path := c.opts.Snapshot
	if path == "" || (!c.host.changed.Load() && !c.membersChanged.Load()) ||
		time.Since(c.snapWritten) < max(snapshotEvery, snapshotSpacing*c.snapCost) {
		return
	}
	begin := time.Now()
	defer func() { c.snapCost = time.Since(begin) }()
	st, known := c.hostState()
	if !known || st.serial == 0 {
		return
	}
	c.host.changed.Store(false)
	c.membersChanged.Store(false)
	// A copy: the members may be the snapshot's own.
	st.members = slices.Clone(st.members)
	for i := range st.members {
		if e := c.members[st.members[i].cluster.Name]; e != nil && e.known {
			st.members[i].services = e.servedList()
		}
	}
	data, err := encodeSnapshot(c.federation, c.hostURL, st)
	if err == nil && sha256.Sum256(data) == c.snapSum {
		return
	}
	if err == nil {
		err = writeSnapshot(path, data)
	}
	c.snapWritten = time.Now()
	if err != nil {
		// Once per cause; the next change tries again.
		if msg := err.Error(); msg != c.snapErr {
			c.snapErr = msg
			log.Errorf("Cannot write the snapshot %s: %v", path, err)
		}
		return
	}
	if c.snapErr != "" {
		log.Infof("Wrote the snapshot %s again", path)
	}
	c.snapErr, c.snapSum = "", sha256.Sum256(data)
}

// encodeSnapshot returns the snapshot of st, the state of federation in the
// host at host.
func encodeSnapshot(federation, host string, st hostState) ([]byte, error) {
	f := snapshotFile{Version: snapshotVersion, Federation: federation, Host: host, Serial: st.serial, DNSSEC: st.keySet}
	for _, m := range st.members {
		c := snapshotCluster{
			Name:             m.cluster.Name,
			Region:           m.cluster.Region,
			Zone:             m.cluster.Zone,
			CredentialSecret: m.secret,
			Kubeconfig:       m.kubeconfig,
			Services:         m.services,
		}
		if m.cluster.Location.Known {
			lat, lon := m.cluster.Location.Latitude, m.cluster.Location.Longitude
			c.Latitude, c.Longitude = &lat, &lon
		}
		f.Clusters = append(f.Clusters, c)
	}
	// Not indented: indenting a large federation's snapshot doubled the
	// memory its encoding takes.
	return json.Marshal(f)
}

// decodeSnapshot reads a snapshot of federation in the host at host. Its
// errors say what is wrong without quoting the file.
func decodeSnapshot(data []byte, federation, host string) (hostState, error) {
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		return hostState{}, fmt.Errorf("not a snapshot: %s", jsonProblem(err))
	}
	switch {
	case f.Version != snapshotVersion:
		return hostState{}, fmt.Errorf("version %d, and this coredns-fed reads version %d", f.Version, snapshotVersion)
	case f.Federation != federation:
		return hostState{}, fmt.Errorf("of federation %q, not %q", f.Federation, federation)
	case f.Host != host:
		return hostState{}, fmt.Errorf("of the host at %s, not %s", f.Host, host)
	case f.Serial == 0:
		return hostState{}, errors.New("no serial")
	}
	st := hostState{serial: f.Serial, keySet: f.DNSSEC, snapshot: true}
	seen := map[string]bool{}
	for i, c := range f.Clusters {
		if c.Name == "" || seen[c.Name] {
			return hostState{}, fmt.Errorf("cluster %d has an empty or repeated name", i+1)
		}
		seen[c.Name] = true
		for _, svc := range c.Services {
			if svc.Service == nil {
				return hostState{}, fmt.Errorf("a service of cluster %s is null", c.Name)
			}
		}
		m := hostMember{
			cluster:    Cluster{Name: c.Name, Region: c.Region, Zone: c.Zone},
			secret:     c.CredentialSecret,
			kubeconfig: c.Kubeconfig,
			services:   c.Services,
		}
		if c.Latitude != nil && c.Longitude != nil {
			m.cluster.Location = Location{Latitude: *c.Latitude, Longitude: *c.Longitude, Known: true}
		}
		st.members = append(st.members, m)
	}
	return st, nil
}

// jsonProblem describes a JSON error by where it is, since the messages of
// some quote the input.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	}
	return "malformed JSON"
}

// readSnapshot reads the snapshot at path. A missing file is an error that
// wraps fs.ErrNotExist.
func readSnapshot(path, federation, host string) (hostState, []byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return hostState{}, nil, err
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxSnapshotSize+1))
	if err != nil {
		return hostState{}, nil, err
	}
	if len(data) > maxSnapshotSize {
		return hostState{}, nil, fmt.Errorf("larger than %d MiB", maxSnapshotSize>>20)
	}
	st, err := decodeSnapshot(data, federation, host)
	return st, data, err
}

// writeSnapshot replaces the file at path with data atomically: a reader,
// or a server that starts after a crash, sees the old snapshot or the new
// one, never part of one. The file is readable by its owner only.
func writeSnapshot(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*")
	if err != nil {
		return err
	}
	// Gone by then after a successful rename.
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename lasts through a crash once the directory is synced too;
	// not every file system can, and the snapshot is written again on the
	// next change.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
