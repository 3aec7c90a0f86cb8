package plugin

// Shell completion of the types get takes.

import (
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
)

// completeTypes offers the resource types the host serves, which members
// usually serve too, as kubectl api-resources names them.
func (o *GetOptions) completeTypes(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	_ = o.host.complete()
	dc, err := o.host.configFlags.ToDiscoveryClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	lists, _ := dc.ServerPreferredResources()
	var out []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !sets.New(r.Verbs...).Has("list") {
				continue
			}
			name := r.Name
			if gv.Group != "" {
				name += "." + gv.Group
			}
			if strings.HasPrefix(name, toComplete) {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}
