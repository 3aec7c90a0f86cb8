package report

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Verdicts, as the table shows them.
const (
	verdictMet    = "met"
	verdictNotMet = "NOT met"
	verdictNotRun = "not run"
)

// WriteTable writes one table of targets: first every goal, in order, with
// the targets recorded under its name (or a "not run" row when there is
// none), then the targets of no goal, in the order given. It ends with a
// count of each verdict.
func WriteTable(w io.Writer, goals []Goal, targets []Target) error {
	byName := map[string][]Target{}
	for _, t := range targets {
		byName[t.Name] = append(byName[t.Name], t)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ITEM\tTARGET\tCASE\tFIGURE\tBASELINE\tBOUND\tVERDICT")
	counts := map[string]int{}
	row := func(item string, t Target, verdict string) {
		counts[verdict]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", item, t.Name, dash(t.Case), dash(t.Figure), dash(t.Baseline), dash(t.Target), verdict)
	}
	known := map[string]bool{}
	for _, g := range goals {
		known[g.Name] = true
		item := g.Item
		got := byName[g.Name]
		if len(got) == 0 {
			row(item, Target{Name: g.Name, Target: g.Target}, verdictNotRun)
			continue
		}
		for _, t := range got {
			if t.Target == "" {
				t.Target = g.Target
			}
			row(item, t, verdictOf(t))
		}
	}
	for _, t := range targets {
		if !known[t.Name] {
			row("-", t, verdictOf(t))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d met, %d not met, %d not run", counts[verdictMet]+counts[verdictMet+noted], counts[verdictNotMet]+counts[verdictNotMet+noted], counts[verdictNotRun])
	if err == nil && counts[verdictMet+noted]+counts[verdictNotMet+noted] > 0 {
		_, err = fmt.Fprintf(w, "; %s: read the note on the figure before the verdict", noted)
	}
	if err == nil {
		_, err = fmt.Fprintln(w)
	}
	if err != nil {
		return err
	}
	return writeNotes(w, targets)
}

// noted marks the verdict of a target with a note: a sampled run, a
// loaded machine, anything that qualifies the figure.
const noted = "*"

// writeNotes lists the notes of the targets after the table, where they
// have room: each text once, with the first target that has it and how
// many more do.
func writeNotes(w io.Writer, targets []Target) error {
	var texts []string
	first := map[string]string{}
	count := map[string]int{}
	for _, t := range targets {
		if t.Note == "" {
			continue
		}
		if count[t.Note] == 0 {
			texts = append(texts, t.Note)
			first[t.Note] = t.Name
			if t.Case != "" {
				first[t.Note] += " (" + t.Case + ")"
			}
		}
		count[t.Note]++
	}
	for _, text := range texts {
		label := first[text]
		if n := count[text] - 1; n > 0 {
			label += fmt.Sprintf(" and %d more", n)
		}
		if _, err := fmt.Fprintf(w, "note, %s: %s\n", label, text); err != nil {
			return err
		}
	}
	return nil
}

// GoalsOf returns the goals that targets answer, in the goals' order: a
// part's own table shows its rows with their items and bounds, without a
// "not run" row for every other part's goal.
func GoalsOf(goals []Goal, targets []Target) []Goal {
	have := map[string]bool{}
	for _, t := range targets {
		have[t.Name] = true
	}
	var out []Goal
	for _, g := range goals {
		if have[g.Name] {
			out = append(out, g)
		}
	}
	return out
}

func verdictOf(t Target) string {
	v := verdictNotMet
	if t.Met {
		v = verdictMet
	}
	if t.Note != "" {
		v += noted
	}
	return v
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
