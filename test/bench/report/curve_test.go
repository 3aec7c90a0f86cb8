package report

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteCurves(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "curves")
	curves := []Curve{
		{Name: "resident memory", Series: "1 cluster", Unit: "MB", X: "Services per cluster", Points: []Point{{100, 55}, {1000, 60}, {2500, 70}}},
		{Name: "resident memory", Series: "20 clusters", Unit: "MB", X: "Services per cluster", Points: []Point{{100, 70}, {1000, 160}, {2500, 330}}, MaxGrowth: 1},
		// Zero has no logarithm: this chart is drawn on linear axes.
		{Name: "queries lost", Unit: "queries", X: "clusters", Points: []Point{{1, 0}, {5, 0}}},
	}
	fits, err := WriteCurves(dir, curves)
	if err != nil {
		t.Fatal(err)
	}
	if len(fits) != 3 || fits[1].Series != "20 clusters" || fits[1].Err != nil || fits[2].Err == nil {
		t.Errorf("fits = %+v", fits)
	}
	csv, err := os.ReadFile(filepath.Join(dir, CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	wantCSV := `measure,series,unit,x_name,x,y
resident memory,1 cluster,MB,Services per cluster,100,55
resident memory,1 cluster,MB,Services per cluster,1000,60
resident memory,1 cluster,MB,Services per cluster,2500,70
resident memory,20 clusters,MB,Services per cluster,100,70
resident memory,20 clusters,MB,Services per cluster,1000,160
resident memory,20 clusters,MB,Services per cluster,2500,330
queries lost,,queries,clusters,1,0
queries lost,,queries,clusters,5,0
`
	if string(csv) != wantCSV {
		t.Errorf("%s:\n%s\nwant\n%s", CSVFile, csv, wantCSV)
	}
	for _, name := range []string{"resident-memory.png", "queries-lost.png"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r := img.Bounds(); r.Dx() < 300 || r.Dy() < 200 {
			t.Errorf("%s: %v, want a chart of some size", name, r)
		}
	}
}

func TestWriteCurvesRejects(t *testing.T) {
	if _, err := WriteCurves(t.TempDir(), nil); err == nil {
		t.Error("no curves: no error")
	}
	if _, err := WriteCurves(t.TempDir(), []Curve{{Name: "m"}}); err == nil {
		t.Error("a curve without X: no error")
	}
}

func TestChartFile(t *testing.T) {
	for in, want := range map[string]string{
		"resident memory":          "resident-memory.png",
		"QPS / the 3 x 1,000 case": "qps-the-3-x-1-000-case.png",
		"  start-to-ready (s)  ":   "start-to-ready-s.png",
		"***":                      "measure.png",
		"change→answer p95":        "change-answer-p95.png",
	} {
		if got := chartFile(in); got != want {
			t.Errorf("chartFile(%q) = %q, want %q", in, got, want)
		}
	}
}

// Publish writes the files, prints the fits, and records a target for the
// files and one for each bounded curve.
func TestPublish(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	t.Setenv(OutDirEnv, out)
	dir := filepath.Join(out, "curves")
	curves := []Curve{
		{Name: "start to ready", Unit: "s", X: "clusters", Points: []Point{{1, 1}, {20, 3}}, MaxGrowth: 1},
		{Name: "QPS", Unit: "QPS", X: "clusters", Points: []Point{{1, 5}, {20, 5}}},
	}
	var w bytes.Buffer
	if _, err := Publish(&w, dir, curves); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(w.Bytes(), []byte("start to ready (s)")) {
		t.Errorf("printed:\n%s\nwant the fits", w.String())
	}
	for _, name := range []string{CSVFile, "start-to-ready.png", "qps.png"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	got, err := ReadTargets(filepath.Join(out, TargetsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Case != "files" || !got[0].Met || got[1].Case != "start to ready over clusters" || !got[1].Met {
		t.Errorf("recorded %+v, want the files and start to ready's growth", got)
	}
}
