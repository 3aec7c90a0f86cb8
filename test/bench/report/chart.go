package report

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writeChart draws the curves of one measure into a PNG at path: a line
// with points per series. Both axes are logarithmic when every value is
// above zero, so that a power law is a straight line whose slope is its
// exponent; otherwise linear.
func writeChart(path string, curves []Curve) error {
	p := plot.New()
	p.Title.Text = curves[0].Name + " (" + curves[0].Unit + ")"
	p.X.Label.Text = curves[0].X
	p.Y.Label.Text = curves[0].Unit
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i, c := range curves {
		xys := make(plotter.XYs, len(c.Points))
		for j, pt := range c.Points {
			xys[j] = plotter.XY{X: pt.X, Y: pt.Y}
			xmin, xmax = math.Min(xmin, pt.X), math.Max(xmax, pt.X)
			ymin, ymax = math.Min(ymin, pt.Y), math.Max(ymax, pt.Y)
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		line.Color = plotutil.Color(i)
		points.Color = plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(legend(c), line, points)
	}
	if xmin > 0 && ymin > 0 && !math.IsInf(xmax, 0) && !math.IsInf(ymax, 0) {
		logAxis(&p.X, xmin, xmax)
		logAxis(&p.Y, ymin, ymax)
		// The sizes measured are few and chosen: label each of them.
		p.X.Tick.Marker = dataTicks(curves)
	}
	return p.Save(16*vg.Centimeter, 10*vg.Centimeter, path)
}

// logAxis makes a logarithmic axis over [lo, hi], widened a little so
// that no point sits on the frame, and never down to zero, which has no
// logarithm.
func logAxis(a *plot.Axis, lo, hi float64) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = plot.TickerFunc(oneTwoFive)
	a.Min, a.Max = lo/1.25, hi*1.25
}

// legend labels a curve's line with its series and fitted exponent.
func legend(c Curve) string {
	label := c.Series
	if label == "" {
		label = c.Name
	}
	if f := FitCurve(c); f.Err == nil {
		label += fmt.Sprintf(" (k = %.2f)", f.Exponent)
	}
	return label
}

// oneTwoFive puts labelled ticks at 1, 2 and 5 times each power of ten
// within [lo, hi] and unlabelled ones at the other multiples: a log axis
// over less than a decade still shows its values.
func oneTwoFive(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for decade := math.Pow(10, math.Floor(math.Log10(lo))); decade <= hi; decade *= 10 {
		for m := 1.0; m < 10; m++ {
			v := m * decade
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// dataTicks labels every x that a curve has a point at.
func dataTicks(curves []Curve) plot.ConstantTicks {
	seen := map[float64]bool{}
	var ticks plot.ConstantTicks
	for _, c := range curves {
		for _, p := range c.Points {
			if !seen[p.X] {
				seen[p.X] = true
				ticks = append(ticks, plot.Tick{Value: p.X, Label: strconv.FormatFloat(p.X, 'g', -1, 64)})
			}
		}
	}
	return ticks
}
