package report_test

import (
	"fmt"
	"os"

	"github.com/kfed-dev/kfed/test/bench/report"
)

// A scale part measures at several sizes, writes the curves and their
// charts, prints the growth of each, and records the bounded ones as
// targets for the summary of `make bench`.
func ExampleWriteCurves() {
	dir, err := os.MkdirTemp("", "curves-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	curves := []report.Curve{
		{Name: "start to ready", Series: "1,000 Services per cluster", Unit: "s", X: "clusters",
			Points: []report.Point{{X: 1, Y: 0.5}, {X: 5, Y: 2.5}, {X: 10, Y: 5}, {X: 20, Y: 10}}, MaxGrowth: 1.1},
		{Name: "QPS", Series: "20 clusters", Unit: "QPS", X: "Services per cluster",
			Points: []report.Point{{X: 100, Y: 50000}, {X: 1000, Y: 50000}, {X: 2500, Y: 50000}}},
	}
	fits, err := report.WriteCurves(dir, curves) // curves.csv, start-to-ready.png, qps.png
	if err != nil {
		panic(err)
	}
	if err := report.PrintFits(os.Stdout, fits); err != nil {
		panic(err)
	}
	for _, f := range fits {
		if t, ok := f.Target(); ok {
			fmt.Printf("%s: %s, %s\n", t.Case, t.Figure, t.Target)
			_ = report.Record(t)
		}
	}
	// Output:
	// MEASURE             SERIES                      OVER                  POINTS  GROWTH y ~ x^k  R²    READING  LINE y = a + b·x
	// start to ready (s)  1,000 Services per cluster  clusters              4       k = 1.00        1.00  linear   a = 0, b = 0.5 s per x
	// QPS (QPS)           20 clusters                 Services per cluster  3       k = 0.00        1.00  flat     a = 5e+04, b = 0 QPS per x
	// start to ready, 1,000 Services per cluster over clusters: k = 1.00, linear (R² 1.00, 4 points), k <= 1.10
}
