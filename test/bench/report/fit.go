package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"gonum.org/v1/gonum/stat"
)

// Fit is the power law a curve follows, y ≈ Scale·x^Exponent, fitted by
// least squares on log y against log x. Exponent reads as the growth: 0
// flat, 1 linear, 2 quadratic.
type Fit struct {
	// Name, Series, Unit and X are the curve's.
	Name, Series, Unit, X string
	Exponent, Scale       float64
	// Slope is the straight line's, y ≈ Intercept + Slope·x, fitted on the
	// same points: the cost of one more unit of x once fixed costs (the
	// intercept) are set apart, which a power law blurs.
	Slope, Intercept float64
	// RSquared is the fit's coefficient of determination on the log-log
	// points: near 1, the power law describes them well.
	RSquared float64
	// Points is how many points the fit used: those with x and y above 0.
	Points int
	// MaxGrowth is the curve's bound on Exponent; 0 for none.
	MaxGrowth float64
	// Err says why there is no fit (too few usable points); the other
	// figures are then zero.
	Err error
}

// errTooFewPoints says that a fit needs two points of distinct x.
var errTooFewPoints = errors.New("fewer than two points with x > 0 and y > 0 at distinct x")

// FitCurve fits c's points with a power law. Points with x or y at or
// below zero have no logarithm and are left out.
func FitCurve(c Curve) Fit {
	f := Fit{Name: c.Name, Series: c.Series, Unit: c.Unit, X: c.X, MaxGrowth: c.MaxGrowth}
	var x, y, lx, ly []float64
	distinct := map[float64]bool{}
	for _, p := range c.Points {
		if p.X > 0 && p.Y > 0 && !math.IsInf(p.X, 0) && !math.IsInf(p.Y, 0) {
			x, y = append(x, p.X), append(y, p.Y)
			lx = append(lx, math.Log(p.X))
			ly = append(ly, math.Log(p.Y))
			distinct[p.X] = true
		}
	}
	f.Points = len(lx)
	if len(distinct) < 2 {
		f.Err = errTooFewPoints
		return f
	}
	alpha, beta := stat.LinearRegression(lx, ly, nil, false)
	f.Exponent, f.Scale = beta, math.Exp(alpha)
	f.Intercept, f.Slope = stat.LinearRegression(x, y, nil, false)
	f.RSquared = stat.RSquared(lx, ly, nil, alpha, beta)
	if math.IsNaN(f.RSquared) {
		// All y equal: the flat line fits them exactly.
		f.RSquared = 1
	}
	return f
}

// Growth names the kind of growth an exponent shows, with a tolerance of
// 0.1 either side of flat and linear, which a few noisy points easily
// stray by.
func Growth(k float64) string {
	switch {
	case k < -0.1:
		return "falling"
	case k <= 0.1:
		return "flat"
	case k < 0.9:
		return "sublinear"
	case k <= 1.1:
		return "linear"
	default:
		return "superlinear"
	}
}

// Target returns the fit as a target of CostCurves, when its curve has a
// bound on growth.
func (f Fit) Target() (Target, bool) {
	if f.MaxGrowth <= 0 {
		return Target{}, false
	}
	t := Target{
		Name:   CostCurves,
		Case:   f.label() + " over " + f.X,
		Target: fmt.Sprintf("k <= %.2f", f.MaxGrowth),
	}
	if f.Err != nil {
		t.Figure = "no fit"
		t.Note = f.label() + ": " + f.Err.Error()
		return t, true
	}
	t.Figure = fmt.Sprintf("k = %.2f, %s (R² %.2f, %d points)", f.Exponent, Growth(f.Exponent), f.RSquared, f.Points)
	t.Met = f.Exponent <= f.MaxGrowth
	return t, true
}

func (f Fit) label() string {
	if f.Series == "" {
		return f.Name
	}
	return f.Name + ", " + f.Series
}

// PrintFits writes a table of fits: each curve's fitted exponent, how
// well the power law fits, and what kind of growth it is.
func PrintFits(w io.Writer, fits []Fit) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASURE\tSERIES\tOVER\tPOINTS\tGROWTH y ~ x^k\tR²\tREADING\tLINE y = a + b·x")
	for _, f := range fits {
		if f.Err != nil {
			fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%d\t-\t-\t%v\t-\n", f.Name, f.Unit, dash(f.Series), f.X, f.Points, f.Err)
			continue
		}
		fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%d\tk = %.2f\t%.2f\t%s\ta = %.4g, b = %.4g %s per x\n", f.Name, f.Unit, dash(f.Series), f.X, f.Points,
			f.Exponent, f.RSquared, Growth(f.Exponent), f.Intercept, f.Slope, f.Unit)
	}
	return tw.Flush()
}
