package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kfed-dev/kfed/test/lab"
)

// upOptions are the flags of `kfed-lab up`, passed on to the supervisor.
type upOptions struct {
	clusters []string
	count    int
	nodes    int
	real     int
	minimal  bool
	timeout  time.Duration
	bin      string
	images   []string
}

func (o *upOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&o.clusters, "clusters", nil,
		"Clusters as NAME=REGION/ZONE, comma separated (default usa=us-east-1/us-east-1a,eur=eu-west-1/eu-west-1a,jpn=ap-northeast-1/ap-northeast-1a).")
	cmd.Flags().IntVar(&o.count, "count", 0, "Number of clusters: the defaults first, then generated ones (c4, c5, ...). 0 means as many as --clusters names.")
	cmd.Flags().IntVar(&o.nodes, "nodes", 3, "kwok nodes per cluster.")
	cmd.Flags().IntVar(&o.real, "real-nodes", 0, "Real nodes per cluster: a kubelet and containerd each, running pods for real. Needs root and Debian's containerd, runc and containernetworking-plugins.")
	cmd.Flags().StringArrayVar(&o.images, "image", nil, "An image archive (docker or OCI tarball, such as make image writes) for every real node to import, so that pods can run it without a registry. May be repeated.")
	cmd.Flags().BoolVar(&o.minimal, "minimal", false, "Run only etcd and an API server per cluster, for scale work.")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Minute, "How long to wait for every cluster to be Ready.")
	cmd.Flags().StringVar(&o.bin, "bin", "", "Directory of the lab's programs (default: $"+lab.BinDirEnv+" or .cache/lab/current).")
}

func (o *upOptions) args() []string {
	a := []string{
		"--count", fmt.Sprint(o.count),
		"--nodes", fmt.Sprint(o.nodes),
		"--real-nodes", fmt.Sprint(o.real),
		"--timeout", o.timeout.String(),
		fmt.Sprintf("--minimal=%t", o.minimal),
	}
	if len(o.clusters) > 0 {
		a = append(a, "--clusters", strings.Join(o.clusters, ","))
	}
	if o.bin != "" {
		a = append(a, "--bin", o.bin)
	}
	for _, img := range o.images {
		a = append(a, "--image", img)
	}
	return a
}

// specs turns the flags into cluster specs.
func (o *upOptions) specs() ([]lab.ClusterSpec, error) {
	var specs []lab.ClusterSpec
	if len(o.clusters) == 0 {
		specs = lab.DefaultClusters()
	}
	for _, s := range o.clusters {
		name, place, ok := strings.Cut(s, "=")
		region, zone, ok2 := strings.Cut(place, "/")
		if !ok || !ok2 || name == "" || region == "" || zone == "" {
			return nil, fmt.Errorf("--clusters: %q is not NAME=REGION/ZONE, for example usa=us-east-1/us-east-1a", s)
		}
		specs = append(specs, lab.ClusterSpec{Name: name, Region: region, Zone: zone})
	}
	if o.count > 0 {
		if o.count < len(specs) {
			specs = specs[:o.count]
		}
		for i := len(specs); i < o.count; i++ {
			r := extraRegions[i%len(extraRegions)]
			specs = append(specs, lab.ClusterSpec{Name: fmt.Sprintf("c%d", i+1), Region: r, Zone: r + "a"})
		}
	}
	for i := range specs {
		specs[i].Nodes = o.nodes
		specs[i].RealNodes = o.real
	}
	return specs, nil
}

// extraRegions place generated clusters around the world.
var extraRegions = []string{"us-west-2", "eu-central-1", "ap-southeast-2", "sa-east-1", "ca-central-1", "ap-south-1", "af-south-1", "me-south-1"}

func newUpCmd(dir *string) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the lab's clusters and leave them running",
		Example: `  # Three clusters: usa, eur and jpn
  kfed-lab up

  # Two clusters of your own
  kfed-lab up --clusters a=us-east-1/us-east-1a,b=eu-west-1/eu-west-1b`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := o.specs(); err != nil {
				return err
			}
			return up(cmd, *dir, o)
		},
	}
	o.addFlags(cmd)
	return cmd
}

// up starts a supervisor in its own session, relays its progress, and
// returns once the lab is Ready, leaving the supervisor running.
func up(cmd *cobra.Command, dir string, o *upOptions) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	// The supervisor outlives this command: absolute paths only.
	for i, img := range o.images {
		if o.images[i], err = filepath.Abs(img); err != nil {
			return err
		}
	}
	if st, err := readState(dir); err == nil && processAlive(st.PID) {
		return fmt.Errorf("a lab is already running in %s (supervisor pid %d); stop it with `kfed-lab down --dir %s`", dir, st.PID, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "supervisor.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	sup := exec.Command(self, append([]string{"supervise", "--dir", dir}, o.args()...)...)
	sup.Stdout, sup.Stderr = logFile, logFile
	sup.ExtraFiles = []*os.File{w} // fd 3: progress, then READY or FAILED
	sup.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := sup.Start(); err != nil {
		return err
	}
	w.Close()
	result := ""
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := s.Text()
		if line == "READY" || strings.HasPrefix(line, "FAILED: ") {
			result = line
			break
		}
		fmt.Fprintln(cmd.OutOrStdout(), line)
	}
	r.Close()
	if result != "READY" {
		sup.Wait()
		if result == "" {
			return fmt.Errorf("the lab supervisor exited early; see %s", logFile.Name())
		}
		return fmt.Errorf("%s (logs under %s)", strings.TrimPrefix(result, "FAILED: "), dir)
	}
	// The supervisor lives on in its own session; let it go.
	sup.Process.Release()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	specs, _ := o.specs()
	fmt.Fprintf(cmd.OutOrStdout(), "\nThe lab is up. Use it with:\n  export KUBECONFIG=%s\n", kubeconfig)
	for _, s := range specs {
		fmt.Fprintf(cmd.OutOrStdout(), "  kubectl --context %s get nodes -L topology.kubernetes.io/region,topology.kubernetes.io/zone\n", s.Name)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Stop it with: make lab-down (or kfed-lab down --dir %s)\n", dir)
	return nil
}

func newSuperviseCmd(dir *string) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:    "supervise",
		Short:  "Run the lab in the foreground until stopped (used by up)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return supervise(*dir, o)
		},
	}
	o.addFlags(cmd)
	return cmd
}

// supervise starts the lab, serves its control socket and stops the lab on
// SIGTERM, SIGINT or a stop request. Progress goes to fd 3 when up started it.
func supervise(dir string, o *upOptions) error {
	progress := os.NewFile(3, "progress")
	if progress == nil {
		progress = os.Stdout
	}
	report := func(format string, a ...any) {
		fmt.Fprintf(progress, format+"\n", a...)
		fmt.Printf(format+"\n", a...)
	}
	specs, err := o.specs()
	if err != nil {
		report("FAILED: %s", oneLine(err))
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{
		Dir:      dir,
		BinDir:   o.bin,
		Clusters: specs,
		Minimal:  o.minimal,
		Images:   o.images,
		Log:      lineWriter(report),
	})
	if err != nil {
		report("FAILED: %s", oneLine(err))
		return err
	}

	var once sync.Once
	stopped := make(chan struct{})
	stop := func() { once.Do(func() { close(stopped) }) }

	socket := filepath.Join(dir, "control.sock")
	os.Remove(socket)
	ln, err := net.Listen("unix", socket)
	if err != nil {
		l.Stop()
		report("FAILED: control socket: %s", oneLine(err))
		return err
	}
	srv := &http.Server{Handler: lab.ControlHandler(l, stop), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)

	st := state{PID: os.Getpid(), Socket: socket, Kubeconfig: l.Kubeconfig, Clusters: l.Status()}
	if err := writeState(dir, st); err != nil {
		l.Stop()
		report("FAILED: %s", oneLine(err))
		return err
	}
	report("READY")
	progress.Close()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	select {
	case sig := <-sigs:
		fmt.Printf("lab: %v: stopping\n", sig)
	case <-stopped:
		fmt.Println("lab: stop requested")
	}
	err = l.Stop()
	os.Remove(filepath.Join(dir, stateFile))
	// Answer the stop request before going away.
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	srv.Shutdown(shutdownCtx)
	os.Remove(socket)
	fmt.Println("lab: stopped")
	return err
}

// lineWriter adapts a printf-style reporter to an io.Writer of whole lines.
type lineWriter func(format string, a ...any)

func (f lineWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		f("%s", line)
	}
	return len(p), nil
}

// state is what a running supervisor records in the lab's directory.
type state struct {
	PID        int                 `json:"pid"`
	Socket     string              `json:"socket"`
	Kubeconfig string              `json:"kubeconfig"`
	Clusters   []lab.ClusterStatus `json:"clusters"`
}

const stateFile = "state.json"

func writeState(dir string, st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, stateFile), b, 0o600)
}

func readState(dir string) (state, error) {
	var st state
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return st, fmt.Errorf("no lab is running in %s", dir)
		}
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

func processAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// oneLine flattens an error, which may join several, onto one line.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
