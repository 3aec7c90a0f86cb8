package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Point is one measure: Y at X.
type Point struct{ X, Y float64 }

// Curve is one measure taken at several sizes, such as coredns-fed's
// resident memory (Name) with 20 member clusters (Series) over the
// Services per cluster (X). Curves of one Name share a chart, a line per
// Series.
type Curve struct {
	// Name is the measure, e.g. "resident memory".
	Name string
	// Series tells the curves of one measure apart, e.g. "20 clusters".
	// It may be empty when a measure has one curve.
	Series string
	// Unit is Y's, e.g. "MB", "s", "QPS".
	Unit string
	// X says what X counts, e.g. "clusters", "Services per cluster".
	X      string
	Points []Point
	// MaxGrowth, when above 0, bounds the fitted exponent k of y ~ x^k:
	// WriteCurves' fit then carries a target of CostCurves. 1 is "linear
	// or better".
	MaxGrowth float64
}

// CSVFile is the name of the CSV file WriteCurves writes.
const CSVFile = "curves.csv"

// WriteCurves writes curves into dir: every point into curves.csv, and a
// chart per measure into <measure>.png, log-log where every value is above
// zero. It returns the fit of each curve, in order, for PrintFits and
// Fit.Target.
func WriteCurves(dir string, curves []Curve) ([]Fit, error) {
	if len(curves) == 0 {
		return nil, errors.New("no curves to write")
	}
	for _, c := range curves {
		if c.Name == "" || c.X == "" {
			return nil, fmt.Errorf("curve %q (series %q): a curve needs a Name and an X", c.Name, c.Series)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := writeCSV(filepath.Join(dir, CSVFile), curves); err != nil {
		return nil, err
	}
	for _, group := range byMeasure(curves) {
		if err := writeChart(filepath.Join(dir, chartFile(group[0].Name)), group); err != nil {
			return nil, fmt.Errorf("chart of %s: %w", group[0].Name, err)
		}
	}
	fits := make([]Fit, len(curves))
	for i, c := range curves {
		fits[i] = FitCurve(c)
	}
	return fits, nil
}

// writeCSV writes one row per point, with its curve's names, so that a
// spreadsheet can pivot on any of them.
func writeCSV(path string, curves []Curve) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"measure", "series", "unit", "x_name", "x", "y"})
	for _, c := range curves {
		for _, p := range c.Points {
			_ = w.Write([]string{c.Name, c.Series, c.Unit, c.X, formatFloat(p.X), formatFloat(p.Y)})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// byMeasure groups curves by Name, in the order names first appear.
func byMeasure(curves []Curve) [][]Curve {
	index := map[string]int{}
	var groups [][]Curve
	for _, c := range curves {
		i, ok := index[c.Name]
		if !ok {
			i = len(groups)
			index[c.Name] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], c)
	}
	return groups
}

// chartFile makes a file name of a measure's name: lower case, runs of
// anything but letters and digits turned into one dash.
func chartFile(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "measure.png"
	}
	return b.String() + ".png"
}

// Publish is what a part that measures curves does with them: it writes
// them into dir (WriteCurves), prints their fits to w, and records the
// curves' files, and each fit that has a bound, as targets of CostCurves.
func Publish(w io.Writer, dir string, curves []Curve) ([]Fit, error) {
	fits, err := WriteCurves(dir, curves)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "\nCost curves, in %s (%s and a PNG chart per measure); each fitted by least squares:\n\n", dir, CSVFile)
	if err := PrintFits(w, fits); err != nil {
		return nil, err
	}
	targets := []Target{{
		Name:   CostCurves,
		Case:   "files",
		Figure: fmt.Sprintf("%d curves of %d measures in %s", len(curves), len(byMeasure(curves)), dir),
		Target: "CSV, PNG, fits printed",
		Met:    true,
	}}
	for _, f := range fits {
		if t, ok := f.Target(); ok {
			targets = append(targets, t)
		}
	}
	return fits, Record(targets...)
}
