package main

import "strings"

// The SDK's loggers write every request's trace lines to stderr unless told a level, and
// Terraform (and OpenTofu) parse each line and drop it unless TF_LOG_PROVIDER, or else TF_LOG,
// asks for provider logs. A profile of an apply put that at an eighth of the provider's CPU.
// So when Terraform will drop them, the provider does not write them: its loggers are set to OFF
// unless a level of their own is given.
var sdkLogLevels = []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_EXPERIENCEPLATFORM"}

// quietLogs returns the logger settings to add when Terraform shows no provider logs.
func quietLogs(lookup func(string) (string, bool)) []string {
	level, _ := lookup("TF_LOG_PROVIDER")
	if strings.TrimSpace(level) == "" {
		level, _ = lookup("TF_LOG")
	}
	if level = strings.TrimSpace(level); level != "" && !strings.EqualFold(level, "off") {
		return nil
	}
	var set []string
	for _, name := range sdkLogLevels {
		if _, ok := lookup(name); !ok {
			set = append(set, name)
		}
	}
	return set
}
