package lab

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PauseImage is the sandbox image of real lab nodes, built from the lab's
// pause program: registry.k8s.io cannot be reached from the lab's machines.
const PauseImage = "kfed.dev/lab/pause:v1"

// HelloImage is the lab's sample app (test/lab/binaries/hello), which every
// real lab node has: an HTTP server on port 8080 and a UDP echo on 8053
// that name the pod, namespace and node that answered. Pods run it with
// imagePullPolicy Never.
const HelloImage = "kfed.dev/lab/hello:v1"

// WriteImage writes an image of one static program, with no base and one
// layer holding only the program at /<its name>, to a tarball at tarPath that
// `ctr images import` loads. No container engine is involved. The image is
// for the machine's own platform, since it runs on the lab's real nodes.
func WriteImage(binary, ref, tarPath string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	program, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	entry := "/" + path.Base(binary)
	layerTar, err := tarOf(entry, program)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = runtime.GOOS, runtime.GOARCH
	cfg.Config = v1.Config{Entrypoint: []string{entry}}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		return fmt.Errorf("writing image %s to %s: %w", ref, tarPath, err)
	}
	return nil
}

// tarOf returns a tar archive holding one executable file.
func tarOf(file string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: file[1:], Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
