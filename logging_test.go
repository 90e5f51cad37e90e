package main

import (
	"slices"
	"testing"
)

func TestQuietLogs(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no logs asked for", nil, sdkLogLevels},
		{"TF_LOG=off", map[string]string{"TF_LOG": "off"}, sdkLogLevels},
		{"TF_LOG=trace", map[string]string{"TF_LOG": "trace"}, nil},
		{"TF_LOG=json", map[string]string{"TF_LOG": "JSON"}, nil},
		{"provider logs only", map[string]string{"TF_LOG_PROVIDER": "debug"}, nil},
		{"provider logs off, core on", map[string]string{"TF_LOG": "trace", "TF_LOG_PROVIDER": "OFF"}, sdkLogLevels},
		{"a level of the SDK's own is kept", map[string]string{"TF_LOG_SDK_PROTO": "trace"},
			[]string{"TF_LOG_SDK", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_EXPERIENCEPLATFORM"}},
	} {
		got := quietLogs(func(k string) (string, bool) { v, ok := c.env[k]; return v, ok })
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: set %v, want %v", c.name, got, c.want)
		}
	}
}
