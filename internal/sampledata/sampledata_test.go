package sampledata

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func generate(t *testing.T, opts Options) (string, Counts) {
	t.Helper()
	dir := t.TempDir()
	c, err := Generate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return dir, c
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSameSeedSameBytes(t *testing.T) {
	opts := Options{Seed: 7, People: 500, EventsPerPerson: 2.5, ResentEvents: 0.05}
	a, ca := generate(t, opts)
	b, cb := generate(t, opts)
	if ca != cb {
		t.Errorf("counts differ: %+v, %+v", ca, cb)
	}
	for _, f := range []string{CRMFile, LoyaltyFile, EventsFile} {
		if !bytes.Equal(read(t, filepath.Join(a, f)), read(t, filepath.Join(b, f))) {
			t.Errorf("%s differs between two runs with the same seed", f)
		}
	}
	opts.Seed = 8
	c, _ := generate(t, opts)
	if bytes.Equal(read(t, filepath.Join(a, CRMFile)), read(t, filepath.Join(c, CRMFile))) {
		t.Errorf("seeds 7 and 8 wrote the same CRM file")
	}
}

func TestSizes(t *testing.T) {
	_, c := generate(t, Options{Seed: 1, People: 10_000, EventsPerPerson: 3})
	fragments := float64(c.CRM+c.Loyalty) / 10_000
	events := float64(c.Events) / 10_000
	if fragments < 1.25 || fragments > 1.35 || events < 2.95 || events > 3.05 {
		t.Errorf("%.3f fragments and %.3f events a person, want about 1.3 and 3", fragments, events)
	}
}

// The quick start's committed data is exactly what the generator writes with QuickstartOptions.
func TestQuickstartDataIsGenerated(t *testing.T) {
	dir, _ := generate(t, QuickstartOptions)
	committed := filepath.Join("..", "..", "examples", "quickstart", "data")
	for _, f := range []string{CRMFile, LoyaltyFile, EventsFile} {
		if !bytes.Equal(read(t, filepath.Join(dir, f)), read(t, filepath.Join(committed, f))) {
			t.Errorf("examples/quickstart/data/%s differs from the generator's output: "+
				"run go run ./internal/sampledata/gensample -out examples/quickstart/data", f)
		}
	}
}
