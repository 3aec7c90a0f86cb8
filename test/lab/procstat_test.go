package lab

import (
	"os"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// Names with spaces and parentheses, as a process may choose.
	for _, c := range []struct {
		stat string
		want ProcStat
	}{
		{"4242 (co re) dns) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 123 0 0", ProcStat{State: 'S', PGrp: 4242, CPU: 3250 * time.Millisecond}},
		{"4242 (a) b (c) T 1 4240 4240 0 -1 4194560 0 0 0 0 1 2 0 0", ProcStat{State: 'T', PGrp: 4240, CPU: 30 * time.Millisecond}},
	} {
		if got, err := ParseProcStat(c.stat); err != nil || got != c.want {
			t.Errorf("ParseProcStat(%q) = %+v, %v; want %+v", c.stat, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "4242 no-paren S 1", "4242 (x) S 1 2", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 ten 12"} {
		if _, err := ParseProcStat(bad); err == nil {
			t.Errorf("ParseProcStat(%q): no error", bad)
		}
	}
}

// This process's own processor time grows as it works.
func TestReadProcStat(t *testing.T) {
	before, err := ReadProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := ReadProcStat(os.Getpid())
	if err != nil || after.CPU <= before.CPU || after.PGrp != before.PGrp {
		t.Errorf("ReadProcStat went from %+v to %+v (%v): want the processor time to grow", before, after, err)
	}
}
