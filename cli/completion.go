package cli

import (
	"fmt"
	"strings"
)

func runCompletion(r *req) (output, error) {
	if len(r.pos) != 1 {
		return output{}, usagef("completion needs one shell name; accepted: bash, zsh")
	}
	switch strings.ToLower(r.pos[0]) {
	case "bash":
		return output{text: bashScript(r.app.verbs)}, nil
	case "zsh":
		return output{text: zshScript(r.app.verbs)}, nil
	}
	return output{}, usagef("completion: unknown shell %q; accepted: bash, zsh", r.pos[0])
}

// zshScript reuses the bash script through zsh's bashcompinit.
func zshScript(reg *registry) string {
	return "# zsh completion for tashi. Load it with: source <(tashi completion zsh)\n" +
		"autoload -U +X compinit && compinit\n" +
		"autoload -U +X bashcompinit && bashcompinit\n" + bashScript(reg)
}

const bashHead = `# bash completion for tashi. Load it with: source <(tashi completion bash)
_tashi() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local verb="" words="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --config) ((i++)) ;;
            -*) ;;
            *) verb=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ $prev == --config ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
        return
    fi
    if [[ -z $verb ]]; then
        COMPREPLY=($(compgen -W "%s %s" -- "$cur"))
        return
    fi
    case "${verb,,} $prev" in
%s    esac
    if [[ -n $words && $cur != -* ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
        return
    fi
    case ${verb,,} in
%s    esac
    COMPREPLY=($(compgen -W "$words %s" -- "$cur"))
}
complete -o default -F _tashi tashi
`

// bashScript completes verbs, each verb's --arguments and columns, the
// values of choice arguments, and help's and completion's words.
func bashScript(reg *registry) string {
	globals := "--json --help --examples --config"
	var names, values, args strings.Builder
	for _, vb := range reg.list {
		names.WriteString(vb.name + " ")
		for _, a := range vb.args {
			if w := valueWords(a); w != "" {
				fmt.Fprintf(&values, "        %q) words=%q ;;\n", strings.ToLower(vb.name)+" --"+a.name, w)
			}
		}
		fmt.Fprintf(&args, "        %s) words=%q ;;\n", strings.ToLower(vb.name), argWords(vb, reg))
	}
	return fmt.Sprintf(bashHead, strings.TrimSpace(names.String()), globals,
		values.String(), args.String(), globals)
}

// valueWords are the values offered after an argument, if it has few.
func valueWords(a arg) string {
	switch a.kind {
	case kChoice:
		return strings.Join(a.choices, " ")
	}
	return "" // a boolean alone means true: offer the next --argument instead
}

// argWords are the words offered after vb: its --arguments and columns.
func argWords(vb *verb, reg *registry) string {
	var w []string
	switch vb.name {
	case "help":
		for _, v := range reg.list {
			w = append(w, v.name)
		}
	case "completion":
		w = append(w, "bash", "zsh")
	}
	for _, a := range vb.args {
		w = append(w, "--"+a.name)
	}
	if vb.rows != nil {
		w = append(w, "--show-all", "--hide-all")
		for _, c := range columnsOf(vb.rows) {
			w = append(w, "--show-"+c.name, "--hide-"+c.name)
		}
	}
	return strings.Join(w, " ")
}
