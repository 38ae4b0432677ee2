package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// otherVerbs run without the cluster manager.
func otherVerbs() []*verb {
	return []*verb{
		{name: "help", summary: "list the verbs, or explain one", pos: "[verb]", local: true,
			run: runHelp, examples: []string{"tashi help", "tashi help createVm"}},
		{name: "completion", summary: "print a shell completion script", pos: "bash|zsh", local: true,
			run: runCompletion, examples: []string{"source <(tashi completion bash)",
				"source <(tashi completion zsh)"}},
	}
}

func runHelp(r *req) (output, error) {
	var b strings.Builder
	switch len(r.pos) {
	case 0:
		r.app.usage(&b)
	case 1:
		vb, err := r.app.verbs.lookup(r.pos[0])
		if err != nil {
			return output{}, err
		}
		writeVerbHelp(&b, vb)
	default:
		return output{}, usagef("help takes at most one verb; got %s", strings.Join(r.pos, " "))
	}
	return output{text: strings.TrimRight(b.String(), "\n")}, nil
}

const globalFlags = `global flags (anywhere on the line):
  --json                print the cluster manager's answer as JSON instead of a table
  --show-<col>          add a column (any JSON field name; see a verb's --help)
  --hide-<col>          remove a column
  --show-all            show every column
  --hide-all            remove every column (then --show-<col> picks some)
  --config FILE         read FILE after the usual config files (may repeat)
  --help, -h            this text, or a verb's with tashi <verb> --help
  --examples            examples, of every verb or of one

An argument's value is the next word unless that word starts with --;
--arg=value also works. A repeated argument overrides the earlier one.
Verbs match in any case.`

func (a *app) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tashi <verb> [--arg value]...")
	for _, group := range []string{groupClient, groupAdmin, groupOther} {
		fmt.Fprintf(w, "\n%s:\n", group)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, vb := range a.verbs.list {
			if vb.group == group {
				fmt.Fprintf(tw, "  %s\t%s\n", vb.name, vb.summary)
			}
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\n%s\n", globalFlags)
}

func (a *app) verbHelp(vb *verb, examplesOnly bool) {
	if examplesOnly {
		writeExamples(a.stdout, vb)
		return
	}
	writeVerbHelp(a.stdout, vb)
}

func writeVerbHelp(w io.Writer, vb *verb) {
	fmt.Fprintf(w, "usage: %s\n\n%s.\n", synopsis(vb), vb.summary)
	if len(vb.args) > 0 {
		fmt.Fprintln(w, "\narguments:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, a := range vb.args {
			fmt.Fprintf(tw, "  --%s\t%s\t%s\n", a.name, argNote(a), a.help)
		}
		tw.Flush()
	}
	if vb.rows != nil {
		all := columnsOf(vb.rows)
		fmt.Fprintf(w, "\ncolumns: %s\n", strings.Join(views[vb.rows].defaults, " "))
		fmt.Fprintf(w, "more with --show-<col>: %s\n", columnNames(all[len(views[vb.rows].defaults):]))
	}
	fmt.Fprintln(w)
	writeExamples(w, vb)
}

// synopsis is "tashi createVm --name NAME --disks DISKS [--cores CORES]...".
func synopsis(vb *verb) string {
	parts := []string{"tashi", vb.name}
	if vb.pos != "" {
		parts = append(parts, vb.pos)
	}
	for _, a := range vb.args {
		p := "--" + a.name + " " + strings.ToUpper(a.name)
		if a.kind == kBool {
			p = "--" + a.name
		}
		if !a.required {
			p = "[" + p + "]"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

// argNote says whether an argument is required, its default, its choices.
func argNote(a arg) string {
	var notes []string
	switch {
	case a.required:
		notes = append(notes, "required")
	case a.def != "":
		notes = append(notes, "default "+a.def)
	default:
		notes = append(notes, "optional")
	}
	switch a.kind {
	case kInt:
		notes = append(notes, fmt.Sprintf("integer >= %d", a.min))
	case kChoice:
		notes = append(notes, strings.Join(a.choices, "|"))
	case kBool:
		notes = append(notes, "yes|no")
	}
	return strings.Join(notes, ", ")
}

func writeExamples(w io.Writer, vb *verb) {
	fmt.Fprintf(w, "examples of %s:\n", vb.name)
	for _, e := range vb.examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

func (a *app) allExamples(w io.Writer) {
	for i, vb := range a.verbs.list {
		if i > 0 {
			fmt.Fprintln(w)
		}
		writeExamples(w, vb)
	}
}
