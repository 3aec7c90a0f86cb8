package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestFitCurve(t *testing.T) {
	tests := []struct {
		name          string
		points        []Point
		wantK, wantA  float64
		wantPoints    int
		wantErr       bool
		wantGrowth    string
		minR2, withIn float64
	}{
		{
			name:   "quadratic",
			points: []Point{{1, 3}, {5, 75}, {10, 300}, {20, 1200}},
			wantK:  2, wantA: 3, wantPoints: 4, wantGrowth: "superlinear", minR2: 0.999,
		},
		{
			name:   "linear",
			points: []Point{{100, 54}, {1000, 540}, {2500, 1350}},
			wantK:  1, wantA: 0.54, wantPoints: 3, wantGrowth: "linear", minR2: 0.999,
		},
		{
			name:   "flat",
			points: []Point{{1, 7}, {5, 7}, {20, 7}},
			wantK:  0, wantA: 7, wantPoints: 3, wantGrowth: "flat", minR2: 1,
		},
		{
			name:   "square root",
			points: []Point{{1, 2}, {4, 4}, {16, 8}},
			wantK:  0.5, wantA: 2, wantPoints: 3, wantGrowth: "sublinear", minR2: 0.999,
		},
		{
			// Zero and negative values have no logarithm: left out.
			name:   "zeros left out",
			points: []Point{{0, 1}, {1, 0}, {2, -1}, {2, 4}, {4, 8}},
			wantK:  1, wantA: 2, wantPoints: 2, wantGrowth: "linear", minR2: 1,
		},
		{
			name:       "one x only",
			points:     []Point{{5, 1}, {5, 2}},
			wantPoints: 2, wantErr: true,
		},
		{
			name:    "no points",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := FitCurve(Curve{Name: "m", X: "clusters", Points: tt.points})
			if f.Points != tt.wantPoints {
				t.Errorf("Points = %d, want %d", f.Points, tt.wantPoints)
			}
			if tt.wantErr {
				if f.Err == nil {
					t.Fatalf("no error, want one (k = %v)", f.Exponent)
				}
				return
			}
			if f.Err != nil {
				t.Fatal(f.Err)
			}
			if math.Abs(f.Exponent-tt.wantK) > 1e-9 || math.Abs(f.Scale-tt.wantA) > 1e-9 {
				t.Errorf("y = %v·x^%v, want %v·x^%v", f.Scale, f.Exponent, tt.wantA, tt.wantK)
			}
			if f.RSquared < tt.minR2 {
				t.Errorf("R² = %v, want at least %v", f.RSquared, tt.minR2)
			}
			if g := Growth(f.Exponent); g != tt.wantGrowth {
				t.Errorf("Growth(%v) = %q, want %q", f.Exponent, g, tt.wantGrowth)
			}
		})
	}
}

// Memory that grows by a fixed amount per unit over a large base fits a
// power law of k well below 1, but its straight line tells the cost per
// unit.
func TestFitCurveOffset(t *testing.T) {
	f := FitCurve(Curve{Name: "rss", X: "Services", Points: []Point{{100, 54.1}, {1000, 55}, {10000, 64}}})
	if f.Err != nil || f.Exponent > 0.1 || math.Abs(f.Slope-0.001) > 1e-9 || math.Abs(f.Intercept-54) > 1e-9 {
		t.Errorf("k = %v, line %v + %v·x; want k near 0, line 54 + 0.001·x", f.Exponent, f.Intercept, f.Slope)
	}
}

// A noisy linear curve still fits near 1, with R² below 1.
func TestFitCurveNoisy(t *testing.T) {
	f := FitCurve(Curve{Name: "m", X: "x", Points: []Point{{1, 10}, {5, 55}, {10, 95}, {20, 210}}})
	if f.Err != nil || f.Exponent < 0.95 || f.Exponent > 1.05 || f.RSquared >= 1 || f.RSquared < 0.99 {
		t.Errorf("k = %v, R² = %v, err %v; want k near 1 and 0.99 <= R² < 1", f.Exponent, f.RSquared, f.Err)
	}
}

func TestFitTarget(t *testing.T) {
	if _, ok := FitCurve(Curve{Name: "m", X: "x", Points: []Point{{1, 1}, {2, 2}}}).Target(); ok {
		t.Error("a curve without MaxGrowth gave a target")
	}
	c := Curve{Name: "resident memory", Series: "20 clusters", Unit: "MB", X: "Services per cluster", MaxGrowth: 1,
		Points: []Point{{100, 60}, {1000, 110}, {2500, 200}}}
	got, ok := FitCurve(c).Target()
	if !ok || got.Name != CostCurves || !got.Met || got.Target != "k <= 1.00" ||
		got.Case != "resident memory, 20 clusters over Services per cluster" || !strings.HasPrefix(got.Figure, "k = 0.") {
		t.Errorf("Target() = %+v, %v", got, ok)
	}
	c.Points = []Point{{1, 1}, {10, 1000}}
	if got, _ := FitCurve(c).Target(); got.Met || got.Figure != "k = 3.00, superlinear (R² 1.00, 2 points)" {
		t.Errorf("cubic growth: Target() = %+v, want not met", got)
	}
	c.Points = nil
	if got, _ := FitCurve(c).Target(); got.Met || got.Figure != "no fit" || got.Note == "" {
		t.Errorf("no points: Target() = %+v, want not met, no fit, a note", got)
	}
}

func TestPrintFits(t *testing.T) {
	fits := []Fit{
		FitCurve(Curve{Name: "rss", Series: "1 cluster", Unit: "MB", X: "Services", Points: []Point{{1, 2}, {4, 8}}}),
		FitCurve(Curve{Name: "qps", Unit: "QPS", X: "clusters", Points: []Point{{1, 5}}}),
	}
	var out bytes.Buffer
	if err := PrintFits(&out, fits); err != nil {
		t.Fatal(err)
	}
	want := `MEASURE    SERIES     OVER      POINTS  GROWTH y ~ x^k  R²    READING` + strings.Repeat(" ", len(errTooFewPoints.Error())-5) + `LINE y = a + b·x
rss (MB)   1 cluster  Services  2       k = 1.00        1.00  linear` + strings.Repeat(" ", len(errTooFewPoints.Error())-4) + `a = 0, b = 2 MB per x
qps (QPS)  -          clusters  1       -               -     ` + errTooFewPoints.Error() + "  -\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
