package main

// How the demo shows what it does: a bold line per step, and each command
// dimmed as one would type it, before it runs.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// step starts a part of the demo.
func step(format string, args ...any) {
	fmt.Printf("\n\033[1m==> %s\033[0m\n", fmt.Sprintf(format, args...))
}

// note prints a dimmed line, such as a command the demo runs itself.
func note(format string, args ...any) {
	fmt.Printf("\033[2m%s\033[0m\n", fmt.Sprintf(format, args...))
}

var plainArg = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// shown renders a command line as one would type it in a shell: an argument
// a shell would read is single-quoted.
func shown(name string, args ...string) string {
	out := []string{name}
	for _, a := range args {
		if !plainArg.MatchString(a) {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// run shows a command and runs it, its output on the demo's.
func run(name string, args ...string) error {
	note("$ %s", shown(name, args...))
	return command(os.Stdout, name, args...)
}

// runTee shows a command and runs it, its output on the demo's and in the
// returned string.
func runTee(name string, args ...string) (string, error) {
	note("$ %s", shown(name, args...))
	var buf bytes.Buffer
	err := command(io.MultiWriter(os.Stdout, &buf), name, args...)
	return buf.String(), err
}

// runQuiet shows a command whose output may hold a credential and runs it,
// returning the output without printing it.
func runQuiet(what, name string, args ...string) (string, error) {
	note("$ %s   # %s", shown(name, args...), what)
	return output(name, args...)
}

// output runs a command without showing it and returns its standard
// output; its standard error goes into the error, if it fails.
func output(name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", shown(name, args...), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func command(stdout io.Writer, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", shown(name, args...), err)
	}
	return nil
}
