package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kfed-dev/kfed/krew"
)

// Sums is the file of a release's sha256 sums, in sha256sum's format.
const Sums = "sha256sums.txt"

// writeSums writes the sums of every file in dir but the sums file itself
// into dir/sha256sums.txt, in the order of their names (os.ReadDir's), so
// that two runs write the same file, and returns its lines.
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
	var data strings.Builder
	for _, l := range lines {
		data.WriteString(l + "\n")
	}
	return lines, os.WriteFile(filepath.Join(dir, Sums), []byte(data.String()), 0o644)
}
