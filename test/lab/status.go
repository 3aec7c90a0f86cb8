package lab

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcessStatus describes one running lab program.
type ProcessStatus struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// RSS is the resident memory in bytes, 0 when the process is not running.
	RSS int64 `json:"rss"`
	// Frozen is set while the process is stopped with SIGSTOP.
	Frozen bool `json:"frozen,omitempty"`
}

// ClusterStatus describes one lab cluster as the lab's supervisor sees it.
type ClusterStatus struct {
	Name             string          `json:"name"`
	Region           string          `json:"region"`
	Zone             string          `json:"zone"`
	Server           string          `json:"server"`
	LoadBalancerPool string          `json:"loadBalancerPool"`
	Minimal          bool            `json:"minimal"`
	Processes        []ProcessStatus `json:"processes"`
	// LoadBalancers maps "namespace/name" to the address of each Service of
	// type LoadBalancer.
	LoadBalancers map[string]string `json:"loadBalancers,omitempty"`
}

// Status reports the cluster's programs with their resident memory.
func (c *Cluster) Status() ClusterStatus {
	st := ClusterStatus{
		Name:             c.Name,
		Region:           c.Region,
		Zone:             c.Zone,
		Server:           c.Server,
		LoadBalancerPool: c.LoadBalancerPool.String(),
		Minimal:          c.Minimal,
	}
	for _, p := range c.processes() {
		ps := ProcessStatus{Name: p.name, PID: p.pid(), Frozen: p.isFrozen()}
		if ps.PID != 0 {
			ps.RSS, _ = residentMemory(ps.PID)
		}
		st.Processes = append(st.Processes, ps)
	}
	if c.lb != nil {
		st.LoadBalancers = map[string]string{}
		for svc, addr := range c.lb.Addresses() {
			st.LoadBalancers[svc] = addr.String()
		}
	}
	return st
}

// Status reports every cluster of the lab.
func (l *Lab) Status() []ClusterStatus {
	var out []ClusterStatus
	for _, c := range l.Clusters {
		out = append(out, c.Status())
	}
	return out
}

// residentMemory reads a process's resident set size from /proc.
func residentMemory(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, "VmRSS:") {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, "VmRSS:"))
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		return kb * 1024, err
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
