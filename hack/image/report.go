package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// report prints the index's digest, each image's digest and size (the
// compressed layers, as a registry stores and a node pulls them), and
// where the archive is.
func report(out io.Writer, idx v1.ImageIndex, archive, name string) error {
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s\n  index %s\n", name, digest)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  PLATFORM\tIMAGE\tSIZE")
	for _, d := range m.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		var size int64
		for _, l := range layers {
			n, err := l.Size()
			if err != nil {
				return err
			}
			size += n
		}
		fmt.Fprintf(w, "  %s\t%s\t%.1f MiB\n", d.Platform, d.Digest, float64(size)/(1<<20))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	info, err := os.Stat(archive)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  wrote %s (%.1f MiB) and its layout beside it\n", archive, float64(info.Size())/(1<<20))
	return nil
}
