package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOverheadSplitsIntoCallsStartsAndTerraform(t *testing.T) {
	path := filepath.Join(t.TempDir(), providerCallsFile)
	// The lines the provider's four processes of a quick start write (see calls.go at the root).
	lines := `{"pid":1,"lived_ms":40,"busy_ms":3,"calls":{"GetProviderSchema":{"n":1,"ms":3}}}
{"pid":2,"lived_ms":50,"busy_ms":11,"calls":{"GetProviderSchema":{"n":1,"ms":3},"ValidateResourceConfig experienceplatform_batch":{"n":3,"ms":8}}}
{"pid":3,"lived_ms":110,"busy_ms":50,"calls":{"ConfigureProvider":{"n":1,"ms":20},"PlanResourceChange experienceplatform_batch":{"n":3,"ms":30}}}
{"pid":4,"lived_ms":250,"busy_ms":176,"calls":{"GetProviderSchema":{"n":1,"ms":2},"ApplyResourceChange experienceplatform_batch":{"n":3,"ms":110},"ApplyResourceChange experienceplatform_export_job":{"n":1,"ms":90}}}
`
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	pc, err := readProviderCalls(path)
	if err != nil {
		t.Fatal(err)
	}
	if pc.processes != 4 || pc.busy != 240*time.Millisecond || pc.byCall["GetProviderSchema"] != 8*time.Millisecond {
		t.Fatalf("read %+v", pc)
	}

	ms := time.Millisecond
	p := splitOverhead(600*ms, 80*ms, 45*ms, 40*ms, pc)
	if p.calls != 160*ms || p.starts != 180*ms || p.terraform != 260*ms {
		t.Errorf("calls %v, starts %v, Terraform %v; want 160ms, 180ms, 260ms", p.calls, p.starts, p.terraform)
	}
	got := p.String()
	for _, want := range []string{"(the median run, 600 ms)", "the provider's calls 160 ms", "its 4 processes",
		"ApplyResourceChange experienceplatform_batch 110, ApplyResourceChange experienceplatform_export_job 90, " +
			"PlanResourceChange experienceplatform_batch 30, ConfigureProvider 20",
		"its 4 starts 180 ms (each as measured above: 160 ms as an empty provider's, 20 ms its own)", "Terraform's own work beyond a bare apply 260 ms"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q\nlacks %q", got, want)
		}
	}

	if got := splitOverhead(600*ms, 80*ms, 45*ms, 0, pc).String(); !strings.Contains(got, "its 4 starts 180 ms (each as measured above), ") {
		t.Errorf("without an empty provider measured: %q", got)
	}
	if got := splitOverhead(600*ms, 80*ms, 40*ms, 45*ms, pc).String(); !strings.Contains(got,
		"its 4 starts 160 ms (each as measured above: 180 ms as an empty provider's, its own 20 ms less)") {
		t.Errorf("a start faster than the empty provider's: %q", got)
	}

	runs := []overheadParts{{overhead: 900 * ms}, p, {overhead: 100 * ms}}
	if m := medianParts(runs); m.overhead != p.overhead || m.calls != p.calls {
		t.Errorf("median run %+v, want the one of 600 ms", m)
	}
}

func TestProviderCallsWithoutTheFileNamesTheProvider(t *testing.T) {
	_, err := readProviderCalls(filepath.Join(t.TempDir(), providerCallsFile))
	if err == nil || !strings.Contains(err.Error(), "provider built from this tree") {
		t.Fatalf("got %v", err)
	}
}
