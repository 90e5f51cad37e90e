package aepclient

import (
	"fmt"
	"sort"
	"strings"
)

func fmtFields(fields map[string]any) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v ", k, fields[k])
	}
	return b.String()
}
