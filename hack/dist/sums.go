package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kfed-dev/kfed/krew"
)

// Sums is the file of a release's sha256 sums, in sha256sum's format.
const Sums = "sha256sums.txt"

// writeSums writes the sums of every file in dir but the sums file itself
// into dir/sha256sums.txt, sorted by name so that `sha256sum -c` reads it
// and two runs write the same file, and returns its lines.
func writeSums(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == Sums {
			continue
		}
		sum, err := krew.FileSha256(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		lines = append(lines, fmt.Sprintf("%s  %s", sum, e.Name()))
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	var data []byte
	for _, l := range lines {
		data = append(data, l+"\n"...)
	}
	return lines, os.WriteFile(filepath.Join(dir, Sums), data, 0o644)
}
