// Command docgen writes a Markdown page for every `kubectl fed` subcommand
// from its cobra help into docs/commands/. `make docs` runs it.
//
// cobra's own doc package needs go-md2man, which is not in this module's
// dependencies; the pages need only what cobra.Command already holds.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kfed-dev/kfed/plugin"
)

func main() {
	dir := flag.String("dir", "docs/commands", "where to write the pages")
	flag.Parse()
	root := plugin.NewCmdFed(genericiooptions.NewTestIOStreamsDiscard())
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := write(root, *dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// pageName is the file of a command's page: kubectl_fed_dns_install.md.
func pageName(cmd *cobra.Command) string {
	return strings.ReplaceAll(commandPath(cmd), " ", "_") + ".md"
}

// commandPath is the command as a user types it: the root is named
// "kubectl fed" for display.
func commandPath(cmd *cobra.Command) string {
	return cmd.CommandPath()
}

func write(cmd *cobra.Command, dir string) error {
	for _, c := range cmd.Commands() {
		if !c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand() {
			continue
		}
		if err := write(c, dir); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	name := commandPath(cmd)
	fmt.Fprintf(&b, "## %s\n\n%s\n\n", name, cmd.Short)
	if cmd.Long != "" {
		fmt.Fprintf(&b, "### Synopsis\n\n%s\n\n", strings.TrimSpace(cmd.Long))
	}
	if cmd.Runnable() {
		fmt.Fprintf(&b, "```\n%s\n```\n\n", cmd.UseLine())
	}
	if cmd.Example != "" {
		fmt.Fprintf(&b, "### Examples\n\n```\n%s\n```\n\n", cmd.Example)
	}
	if flags := cmd.NonInheritedFlags(); flags.HasAvailableFlags() {
		fmt.Fprintf(&b, "### Options\n\n```\n%s```\n\n", flags.FlagUsages())
	}
	if flags := cmd.InheritedFlags(); flags.HasAvailableFlags() {
		fmt.Fprintf(&b, "### Options inherited from parent commands\n\n```\n%s```\n\n", flags.FlagUsages())
	}
	b.WriteString("### See also\n\n")
	if cmd.HasParent() {
		fmt.Fprintf(&b, "* [%s](%s): %s\n", commandPath(cmd.Parent()), pageName(cmd.Parent()), cmd.Parent().Short)
	}
	for _, c := range cmd.Commands() {
		if !c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand() {
			continue
		}
		fmt.Fprintf(&b, "* [%s](%s): %s\n", commandPath(c), pageName(c), c.Short)
	}
	page := b.String()
	// Defaults under the home directory are the reader's, not the writer's.
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		page = strings.ReplaceAll(page, home, "$HOME")
	}
	return os.WriteFile(filepath.Join(dir, pageName(cmd)), []byte(page), 0o644)
}
