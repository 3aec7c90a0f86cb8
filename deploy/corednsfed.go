package deploy

import (
	"embed"
	"fmt"
	"io/fs"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// corednsFed is the kustomize base of coredns-fed, as `kubectl kustomize
// deploy/coredns-fed` renders it from the checkout.
//
//go:embed coredns-fed/*.yaml
var corednsFed embed.FS

// CoreDNSFedDir is the base's directory, relative to this package.
const CoreDNSFedDir = "coredns-fed"

// CoreDNSFed renders the coredns-fed kustomize base into the objects that
// `kubectl fed dns install` applies.
func CoreDNSFed() ([]*unstructured.Unstructured, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(corednsFed, CoreDNSFedDir, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := corednsFed.ReadFile(name)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+name, data)
	})
	if err != nil {
		return nil, err
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/"+CoreDNSFedDir)
	if err != nil {
		return nil, fmt.Errorf("rendering the embedded %s base: %w", CoreDNSFedDir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range resources.Resources() {
		// Through JSON, so that numbers are int64 as in every other
		// unstructured object, which DeepCopy needs.
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}
