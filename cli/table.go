package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tashi-go/tashi/api"
)

// This file is Tashi's makeTable: a header line, a row of dashes, rows
// sorted by the first column, columns as wide as their longest value.
// Every JSON field of a row is a column (nested objects as parent.child);
// a view names the columns shown by default and computed ones.

// column is one column: its name and how to print it from a row.
type column struct {
	name string
	cell func(row reflect.Value) string
}

// view is how one row type is shown.
type view struct {
	defaults []string
	computed []column // added to, or replacing, the JSON fields
}

var views = map[reflect.Type]view{
	rowsOf[api.MetricValue](): metricView, // telemetry.go
	rowsOf[api.Instance](): {
		defaults: []string{"id", "hostId", "name", "user", "state", "disk", "memory", "cores"},
		computed: []column{{name: "disk", cell: firstDisk}},
	},
	rowsOf[api.LayoutHost](): {defaults: []string{"id", "name", "state", "instances",
		"usedMemory", "memory", "usedCores", "cores"}},
	rowsOf[api.Host](): {defaults: []string{"id", "name", "state", "up", "cores", "memory",
		"usedCores", "usedMemory", "version", "notes"}},
	rowsOf[api.Image](): {
		defaults: []string{"id", "imageName", "imageSize"},
		computed: []column{{name: "imageSize", cell: func(r reflect.Value) string {
			return humanSize(r.Interface().(api.Image).Size)
		}}},
	},
	rowsOf[api.User]():     {defaults: []string{"id", "name", "role", "maxInstances", "maxCores", "maxMemory"}},
	rowsOf[api.Network]():  {defaults: []string{"id", "name", "kind", "segmentId", "cidr", "default"}},
	rowsOf[api.LogEntry](): {defaults: []string{"id", "at", "actor", "kind", "detail"}},
}

// firstDisk is Tashi's disk column: the first disk's uri, with ":True"
// when it is persistent.
func firstDisk(r reflect.Value) string {
	ds := r.Interface().(api.Instance).Disks
	if len(ds) == 0 {
		return "None"
	}
	return api.FormatDisks(ds[:1])
}

// humanSize prints a byte count as Tashi does, e.g. 1.74G.
func humanSize(n int64) string {
	const units = "BKMGTPE"
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.2f%c", f, units[i])
}

// columnsOf lists every column of row type t: the view's defaults first,
// then the other JSON fields in field order, then other computed ones.
func columnsOf(t reflect.Type) []column {
	vw := views[t]
	all := fieldColumns(t, "", nil)
	for _, c := range vw.computed {
		if i := slices.IndexFunc(all, func(a column) bool { return a.name == c.name }); i >= 0 {
			all[i] = c
		} else {
			all = append(all, c)
		}
	}
	var out []column
	for _, name := range vw.defaults {
		if i := slices.IndexFunc(all, func(a column) bool { return a.name == name }); i >= 0 {
			out = append(out, all[i])
			all = slices.Delete(all, i, i+1)
		}
	}
	return append(out, all...)
}

var timeType = reflect.TypeFor[time.Time]()

// fieldColumns lists the JSON fields of struct type t as columns.
func fieldColumns(t reflect.Type, prefix string, index []int) []column {
	var out []column
	for i := range t.NumField() {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		idx := append(slices.Clone(index), i)
		if f.Type.Kind() == reflect.Struct && f.Type != timeType {
			out = append(out, fieldColumns(f.Type, prefix+name+".", idx)...)
			continue
		}
		out = append(out, column{name: prefix + name, cell: func(r reflect.Value) string {
			return cell(r.FieldByIndex(idx))
		}})
	}
	return out
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return f.Name
	}
	return name
}

// cell prints one value the way Tashi's Python did: None, True, False.
func cell(v reflect.Value) string {
	if !v.IsValid() {
		return "None"
	}
	switch x := v.Interface().(type) {
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.Format(time.RFC3339)
	case []api.Disk:
		return api.FormatDisks(x)
	case []api.NIC:
		return api.FormatNICs(x)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "None"
		}
		return cell(v.Elem())
	case reflect.Bool:
		return map[bool]string{true: "True", false: "False"}[v.Bool()]
	case reflect.String:
		return v.String()
	case reflect.Slice, reflect.Array:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = cell(v.Index(i))
		}
		return strings.Join(parts, ",")
	case reflect.Map:
		return mapCell(v)
	case reflect.Struct:
		b, _ := json.Marshal(v.Interface())
		return string(b)
	}
	return fmt.Sprint(v.Interface())
}

// mapCell prints a map as k=v pairs sorted by key.
func mapCell(v reflect.Value) string {
	parts := make([]string, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		parts = append(parts, fmt.Sprint(it.Key().Interface())+"="+cell(it.Value()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// selectColumns applies --show-<col>/--hide-<col> (in order) to the
// defaults of row type t. Column names match in any case.
func selectColumns(t reflect.Type, ops []colOp) ([]column, error) {
	all := columnsOf(t)
	shown := map[string]bool{}
	for _, d := range views[t].defaults {
		shown[d] = true
	}
	for _, op := range ops {
		if op.col == "all" {
			for _, c := range all {
				shown[c.name] = op.show
			}
			continue
		}
		i := slices.IndexFunc(all, func(c column) bool { return strings.EqualFold(c.name, op.col) })
		if i < 0 {
			return nil, usagef("unknown column %q; columns: %s", op.col, columnNames(all))
		}
		shown[all[i].name] = op.show
	}
	return slices.DeleteFunc(all, func(c column) bool { return !shown[c.name] }), nil
}

func columnNames(cs []column) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.name
	}
	return strings.Join(names, " ")
}

// writeTable prints rows (a slice of a struct type) with cols.
func writeTable(w io.Writer, rows any, cols []column) error {
	if len(cols) == 0 {
		return nil
	}
	cells := tableCells(reflect.ValueOf(rows), cols)
	sortRows(cells[1:])
	widths := make([]int, len(cols))
	for _, row := range cells {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	total := len(widths) - 1
	for _, wd := range widths {
		total += wd
	}
	var b strings.Builder
	writeRow(&b, cells[0], widths)
	b.WriteString(strings.Repeat("-", total) + "\n")
	for _, row := range cells[1:] {
		writeRow(&b, row, widths)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// tableCells is the header followed by one row of cells per element.
func tableCells(rv reflect.Value, cols []column) [][]string {
	out := [][]string{columnNameRow(cols)}
	for i := range rv.Len() {
		row := make([]string, len(cols))
		for j, c := range cols {
			row[j] = flatten.Replace(c.cell(rv.Index(i)))
		}
		out = append(out, row)
	}
	return out
}

// flatten keeps a cell on one line.
var flatten = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", " ")

func columnNameRow(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

// sortRows sorts by the first column: numbers first, in numeric order,
// then text in byte order.
func sortRows(rows [][]string) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i][0], rows[j][0]
		fa, numA := numeric(a)
		fb, numB := numeric(b)
		switch {
		case numA && numB:
			return fa < fb
		case numA != numB:
			return numA
		}
		return a < b
	})
}

func numeric(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && f == f // NaN sorts as text
}

func writeRow(b *strings.Builder, row []string, widths []int) {
	var line strings.Builder
	for i, c := range row {
		if i > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(c)
		line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
	}
	b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
}
