package plugin

// get's Run: every member read in parallel, and the inventory beside them.

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/kfed-dev/kfed/pkg/aggregate"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/store"
)

// getConcurrency bounds the members read at once. Reading a member is mostly
// waiting on its API server, so every member of a federation of usual size
// is read at once: at 16, the 17th to the 20th member of a large get waited
// for the first ones to finish, and the command took a second round trip
// of the slowest list.
const getConcurrency = 64

// Run reads every member and prints what they hold, then, with --watch,
// what changes in them.
func (o *GetOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.watching() {
		// The signals kubectl get --watch ends on.
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
		defer stop()
		// A second interrupt ends the command at once.
		context.AfterFunc(ctx, stop)
		if o.watchFor > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.watchFor)
			defer cancel()
		}
	}
	s, fed, members, err := o.host.members(ctx, o.Federation)
	if err != nil {
		return err
	}
	members, err = o.pick(fed, members)
	if err != nil {
		return err
	}
	if len(members) == 0 {
		return fmt.Errorf("no clusters have joined federation %s: join one with `kubectl fed join NAME --cluster-context CONTEXT`", fed.Name)
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = fed.ClusterTimeoutOrDefault()
	}
	query := aggregate.Query{
		Args:          o.args,
		Namespace:     o.namespace,
		AllNamespaces: o.AllNamespaces,
		LabelSelector: o.LabelSelector,
		FieldSelector: o.FieldSelector,
		Table:         o.table(),
		FullObjects:   o.sorter != nil,
		ChunkSize:     o.ChunkSize,
	}
	connect := func(c v1alpha1.Cluster) func(context.Context) (*aggregate.Member, error) {
		return func(ctx context.Context) (*aggregate.Member, error) {
			cfg, _, err := s.MemberConfig(ctx, &c, v1alpha1.IdentityManager)
			if err != nil {
				return nil, err
			}
			return aggregate.NewMember(cfg)
		}
	}
	results := fanout.Map(ctx, members, fanout.Options{Concurrency: getConcurrency, Timeout: timeout},
		func(ctx context.Context, c v1alpha1.Cluster) (*aggregate.Answer, error) {
			m, err := connect(c)(ctx)
			if err != nil {
				return nil, err
			}
			return aggregate.Get(ctx, m, c.Name, query)
		})
	var answers []*aggregate.Answer
	var failed []error
	for i, r := range results {
		if r.Value != nil {
			answers = append(answers, r.Value)
		}
		if r.Err != nil {
			failed = append(failed, &aggregate.ClusterError{Cluster: members[i].Name, Err: r.Err})
		}
	}
	var replicas *aggregate.Replicas
	if o.table() {
		replicas = o.readInventory(ctx, s, fed.Name, aggregate.Kinds(answers))
	}
	if !o.watching() {
		return o.print(answers, failed, replicas)
	}
	if ctx.Err() != nil {
		return endBeforeWatch(ctx, failed)
	}
	if len(answers) == 0 {
		// As kubectl get --watch fails when its one cluster does.
		return aggregate.NewErrors(failed)
	}
	watches := make([]*aggregate.Watch, len(members))
	from := make([]*aggregate.Answer, len(members))
	for i, c := range members {
		watches[i] = &aggregate.Watch{Cluster: c.Name, Connect: connect(c), Query: o.watchQuery(query), Timeout: timeout}
		if results[i].Err == nil {
			from[i] = results[i].Value
		}
	}
	return o.watch(ctx, watches, from, answers, failed, replicas)
}

// pick keeps the members --clusters names; a name that is not a member is
// an error, as an unknown name is for kubectl get.
func (o *GetOptions) pick(fed *v1alpha1.Federation, members []v1alpha1.Cluster) ([]v1alpha1.Cluster, error) {
	if len(o.Clusters) == 0 {
		return members, nil
	}
	want := sets.New(o.Clusters...)
	var out []v1alpha1.Cluster
	for _, c := range members {
		if want.Has(c.Name) {
			out = append(out, c)
			want.Delete(c.Name)
		}
	}
	if want.Len() > 0 {
		return nil, fmt.Errorf("not members of federation %q: %s", fed.Name, strings.Join(sets.List(want), ", "))
	}
	return out, nil
}

// readInventory returns what the inventory knows of the federation's
// workloads of the kinds shown: the records of other kinds, a federation's
// thousands of ConfigMaps and Secrets, are not read. The inventory only
// adds columns: when it cannot be read, the members' tables are still
// shown, with a warning.
func (o *GetOptions) readInventory(ctx context.Context, s *store.Store, federation string, kinds []schema.GroupKind) *aggregate.Replicas {
	if len(kinds) == 0 {
		return nil
	}
	inv, err := inventory.New(s, federation)
	if err == nil {
		var records []v1alpha1.FederatedObject
		if records, err = inv.OfKinds(ctx, kinds); err == nil {
			return aggregate.NewReplicas(records)
		}
	}
	if !apierrors.IsNotFound(err) {
		fmt.Fprintf(o.ErrOut, "Warning: cannot read the inventory of federation %s, so DESIRED and PLACED are not shown: %v\n", federation, err)
	}
	return nil
}
