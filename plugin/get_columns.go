package plugin

// -o custom-columns and -o custom-columns-file: kubectl's printer, with the
// member of each object as the first column.

import (
	"fmt"
	"strings"

	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/util/jsonpath"
	"k8s.io/kubectl/pkg/cmd/get"

	"github.com/kfed-dev/kfed/pkg/aggregate"
)

// clusterColumn reads the member from the annotation every printed object
// carries.
var clusterColumn = get.Column{
	Header:    "CLUSTER",
	FieldSpec: "{.metadata.annotations." + strings.ReplaceAll(aggregate.AnnotationCluster, ".", `\.`) + "}",
}

// customColumns reports whether format is one of kubectl's custom-columns
// formats, with its spec or file after an '='.
func customColumns(format string) bool {
	name, _, _ := strings.Cut(format, "=")
	return name == "custom-columns" || name == "custom-columns-file"
}

// customColumnsPrinter returns kubectl's printer for format, its errors
// kubectl's, with CLUSTER added as the first column.
func customColumnsPrinter(format string, noHeaders bool) (printers.ResourcePrinter, error) {
	p, err := get.NewCustomColumnsPrintFlags().ToPrinter(format)
	if err != nil {
		return nil, err
	}
	cc, ok := p.(*get.CustomColumnsPrinter)
	if !ok {
		return nil, fmt.Errorf("-o %s: kubectl returned a %T, not a custom-columns printer", format, p)
	}
	// kubectl parses the columns' JSONPaths only when it prints the first
	// object: a watch would list nothing and then fail. They are parsed
	// here, with the errors kubectl gives.
	for i, c := range cc.Columns {
		if err := jsonpath.New(fmt.Sprintf("column%d", i)).Parse(c.FieldSpec); err != nil {
			return nil, err
		}
	}
	// kubectl ignores --no-headers with a file; kfed honours it for both.
	cc.NoHeaders = noHeaders
	cc.Columns = append([]get.Column{clusterColumn}, cc.Columns...)
	return cc, nil
}
