package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/resource"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

var (
	deleteLong = templates.LongDesc(i18n.T(`
		Delete federated objects from every member that holds them, and from the
		inventory.

		Objects are named by the manifests they were applied from (-f) or by type and
		name, as kubectl delete names them. Only what this federation put in a member is
		deleted there; kfed adds no finalizers, so nothing it deletes waits on kfed.

		A member that cannot be reached keeps the object: the deletion is recorded as
		pending, reported, and finished by the next kubectl fed sync. --force forgets the
		object instead, and says what was left in which member.

		A namespace that apply created in a member for the objects it put there is
		deleted with the last of them, once it holds nothing but kfed's objects and what
		Kubernetes puts in every namespace (the kube-root-ca.crt ConfigMap, the default
		ServiceAccount, events). While it holds anything else, such as a ConfigMap made by
		hand, it stays, and the output says what it holds. A Namespace federated on purpose
		is deleted only when it is named, as kubectl delete does.`))

	deleteExample = templates.Examples(i18n.T(`
		# Delete what a manifest federated
		kubectl fed delete -f app.yaml

		# Delete a federated Deployment and a ConfigMap
		kubectl fed delete deployment/web configmap/settings -n shop

		# Forget an object whose member is gone for good
		kubectl fed delete deployment web -n shop --force`))
)

// DeleteOptions holds the flags of `kubectl fed delete`.
type DeleteOptions struct {
	FilenameOptions resource.FilenameOptions
	Args            []string
	Federation      string
	Force           bool
	DryRun          bool
	Concurrency     int
	Timeout         time.Duration

	namespace string
	explicit  bool

	host *hostFlags
	genericiooptions.IOStreams
}

// NewCmdDelete returns `kubectl fed delete`.
func NewCmdDelete(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DeleteOptions{host: host, IOStreams: streams}
	cmd := &cobra.Command{
		Use:                   "delete ([-f FILENAME] | TYPE NAME... | TYPE/NAME...) [--force]",
		DisableFlagsInUseLine: true,
		Short:                 i18n.T("Delete federated objects from every member and the inventory"),
		Long:                  deleteLong,
		Example:               deleteExample,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	cmdutil.AddFilenameOptionFlags(cmd, &o.FilenameOptions, "the manifests whose objects to delete")
	addFederationFlag(cmd, host, &o.Federation)
	cmd.Flags().BoolVar(&o.Force, "force", false, "Remove the objects from the inventory even where a member cannot be reached; what is left there is reported.")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Show what would be deleted, and delete nothing.")
	addDistributeFlags(cmd, &o.Timeout, &o.Concurrency)
	return cmd
}

// Complete reads the arguments and the namespace.
func (o *DeleteOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.host.complete(); err != nil {
		return err
	}
	o.Args = args
	var err error
	o.namespace, o.explicit, err = o.host.configFlags.ToRawKubeConfigLoader().Namespace()
	return err
}

// Validate checks that objects are named one way.
func (o *DeleteOptions) Validate() error {
	hasFiles := len(o.FilenameOptions.Filenames) > 0
	if hasFiles == (len(o.Args) > 0) {
		return errors.New("name the objects either with -f FILENAME or as TYPE NAME or TYPE/NAME, not both and not neither")
	}
	if err := checkConcurrency(o.Concurrency); err != nil {
		return err
	}
	return nil
}

// Run deletes the objects.
func (o *DeleteOptions) Run(ctx context.Context) error {
	fs, err := openSession(ctx, o.host, o.Federation, o.Timeout)
	if err != nil {
		return err
	}
	if !o.DryRun {
		// Held from before the inventory is read: what this delete judges
		// as still placed cannot change under it, nor can an apply put
		// objects into a namespace this delete is about to remove.
		release, err := fs.lock(ctx, "kubectl fed delete", o.ErrOut)
		if err != nil {
			return err
		}
		defer release()
	}
	entries, err := fs.entries(ctx)
	if err != nil {
		return err
	}
	var keys []inventory.Key
	if len(o.FilenameOptions.Filenames) > 0 {
		objs, err := readObjects(o.host, &o.FilenameOptions)
		if err != nil {
			return err
		}
		if err := defaultNamespaces(objs, fs.targets, o.namespace, o.explicit); err != nil {
			return err
		}
		for _, obj := range objs {
			keys = append(keys, inventory.KeyOf(obj))
		}
	} else {
		if keys, err = resolveNames(o.Args, fs.targets, entries, o.namespace); err != nil {
			return err
		}
	}
	byKey := map[inventory.Key]*inventory.Entry{}
	for _, e := range entries {
		byKey[e.Key()] = e
	}
	var chosen []*inventory.Entry
	var missing []string
	for _, k := range keys {
		if e := byKey[k]; e != nil {
			chosen = append(chosen, e)
		} else {
			missing = append(missing, k.String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not federated by %s: %s; `kubectl get federatedobjects -n kfed-system` lists what is", fs.federation.Name, strings.Join(missing, ", "))
	}
	fs.warnNotReady(o.ErrOut)
	opts := distribute.Options{Federation: fs.federation.Name, Concurrency: o.Concurrency, Progress: progress(o.ErrOut, "deleting")}
	if o.DryRun {
		opts.DryRun = distribute.DryRunClient
	}
	results, recordErr := deleteEntries(ctx, fs, chosen, opts, o.Force)
	results = append(results, removeCreatedNamespaces(ctx, fs, results, stillPlaced(entries, chosen), opts)...)
	if err := printResults(o.Out, results); err != nil {
		return err
	}
	return errors.Join(recordErr, failures(results))
}

// resolveNames turns "TYPE NAME..." or "TYPE/NAME..." into keys, resolving
// TYPE (plural, singular, short name or kind, optionally .group) against the
// members, and against the inventory's kinds for types no Ready member knows.
func resolveNames(args []string, targets []*distribute.Target, entries []*inventory.Entry, namespace string) ([]inventory.Key, error) {
	type ref struct{ typ, name string }
	var refs []ref
	if strings.Contains(args[0], "/") {
		for _, a := range args {
			typ, name, ok := strings.Cut(a, "/")
			if !ok || typ == "" || name == "" {
				return nil, fmt.Errorf("%q is not TYPE/NAME; give every object as TYPE/NAME, or one TYPE and then names", a)
			}
			refs = append(refs, ref{typ, name})
		}
	} else {
		if len(args) < 2 {
			return nil, fmt.Errorf("give a name after the type %q, as in `kubectl fed delete %s NAME`", args[0], args[0])
		}
		for _, n := range args[1:] {
			refs = append(refs, ref{args[0], n})
		}
	}
	var keys []inventory.Key
	for _, r := range refs {
		gk, namespaced, err := resolveType(r.typ, targets, entries)
		if err != nil {
			return nil, err
		}
		k := inventory.Key{Group: gk.Group, Kind: gk.Kind, Name: r.name}
		if namespaced {
			k.Namespace = namespace
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func resolveType(typ string, targets []*distribute.Target, entries []*inventory.Entry) (schema.GroupKind, bool, error) {
	gvr := schema.ParseGroupResource(strings.ToLower(typ)).WithVersion("")
	for _, t := range targets {
		if !t.Ready {
			continue
		}
		gvk, err := t.Types.KindFor(gvr)
		if err != nil {
			continue
		}
		m, err := t.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			continue
		}
		return gvk.GroupKind(), m.Scope.Name() == "namespace", nil
	}
	// No Ready member knows the type: match the inventory's kinds.
	want := strings.ToLower(typ)
	for _, e := range entries {
		k := e.Key()
		kind := strings.ToLower(k.Kind)
		for _, form := range []string{kind, kind + "s", kind + "es", kind + "." + k.Group, kind + "s." + k.Group} {
			if form == want {
				return schema.GroupKind{Group: k.Group, Kind: k.Kind}, k.Namespace != "", nil
			}
		}
	}
	return schema.GroupKind{}, false, fmt.Errorf("the server doesn't have a resource type %q in any Ready member", typ)
}
