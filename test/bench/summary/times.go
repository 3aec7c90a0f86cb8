package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// timesFile is where `make bench` writes each part's time, a line of
// "<part> <seconds>" per part.
const timesFile = "times.txt"

// partTime is how long one bench program ran.
type partTime struct {
	part string
	took time.Duration
}

// readTimes reads the parts' times. A missing file is none: the parts ran
// outside `make bench`.
func readTimes(path string) ([]partTime, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []partTime
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		secs, err := strconv.Atoi(fields[len(fields)-1])
		if len(fields) != 2 || err != nil || secs < 0 {
			return nil, fmt.Errorf("%s:%d: %q is not \"<part> <seconds>\"", path, line, sc.Text())
		}
		out = append(out, partTime{fields[0], time.Duration(secs) * time.Second})
	}
	return out, sc.Err()
}

// describeTimes says how the run's total time divides between the parts
// and the rest: building, installing, compiling the bench programs.
func describeTimes(parts []partTime, total time.Duration) string {
	var b strings.Builder
	rest := total
	for i, p := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", p.part, p.took)
		rest -= p.took
	}
	if len(parts) > 0 {
		b.WriteString("; ")
	}
	fmt.Fprintf(&b, "build, installs and the rest %s; total %s", max(rest, 0), total)
	return b.String()
}
