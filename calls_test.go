package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/provcalls"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/provider"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) at(ms int) *fakeClock {
	c.t = time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond)
	return c
}

func TestCallLogCountsCallsSideBySideOnce(t *testing.T) {
	clock := (&fakeClock{}).at(0)
	l := newCallLog(filepath.Join(t.TempDir(), "calls.jsonl"), clock.now)

	clock.at(5)
	endA := l.begin("A")
	clock.at(15)
	endB := l.begin("B")
	clock.at(35)
	endA()
	clock.at(55)
	endB()
	clock.at(100)
	endA2 := l.begin("A")
	clock.at(110)
	endA2()
	clock.at(120)

	got := l.summary()
	// Busy from 5 to 55 and from 100 to 110; A took 30 + 10, B 40. The summary is a copy.
	endLate := l.begin("A")
	clock.at(130)
	if later := l.summary(); later.BusyMs != 70 || later.Calls["A"].N != 2 {
		t.Errorf("with a call in progress since 120: busy %v ms, A %d calls; want 70 ms and the 2 ended", later.BusyMs, later.Calls["A"].N)
	}
	endLate()
	if got.BusyMs != 60 || got.LivedMs != 120 {
		t.Errorf("busy %v ms, lived %v ms; want 60 and 120", got.BusyMs, got.LivedMs)
	}
	if a := got.Calls["A"]; a == nil || a.N != 2 || a.Ms != 40 {
		t.Errorf("A: %+v, want 2 calls, 40 ms", a)
	}
	if b := got.Calls["B"]; b == nil || b.N != 1 || b.Ms != 40 {
		t.Errorf("B: %+v, want 1 call, 40 ms", b)
	}
}

func TestCallLogAppendsALinePerProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls.jsonl")
	clock := (&fakeClock{}).at(0)
	for _, calls := range []int{1, 3} {
		l := newCallLog(path, clock.now)
		for range calls {
			l.begin("GetProviderSchema")()
		}
		l.write()
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode %o, want 600", perm)
	}
	var ns []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line provcalls.Process
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if line.PID != os.Getpid() {
			t.Errorf("pid %d, want %d", line.PID, os.Getpid())
		}
		ns = append(ns, line.Calls["GetProviderSchema"].N)
	}
	if len(ns) != 2 || ns[0] != 1 || ns[1] != 3 {
		t.Errorf("calls by line %v, want [1 3]", ns)
	}
}

func TestCallLogWithoutTheVariableTimesNothing(t *testing.T) {
	s := providerserver.NewProtocol6(provider.New("test")())()
	l := newCallLog("", (&fakeClock{}).now)
	if l != nil {
		t.Fatal("a log without a file")
	}
	if got := l.wrap(s); got != s {
		t.Errorf("wrap without a log gave %T, want the server itself", got)
	}
	l.write() // does nothing, and does not panic
}

// The timed server must answer every call the framework's does: tf6server finds the optional
// ones by type, and a server that lost them would refuse them.
func TestTimedServerKeepsEveryCallOfTheFrameworkServer(t *testing.T) {
	s := providerserver.NewProtocol6(provider.New("test")())()
	clock := (&fakeClock{}).at(0)
	l := newCallLog(filepath.Join(t.TempDir(), "calls.jsonl"), clock.now)
	w := l.wrap(s)
	if _, ok := w.(timedServer); !ok {
		t.Fatalf("the framework's server (%T) was not timed: it lacks a call the timed server answers", s)
	}
	// tf6server asks for ProviderServerWithListResource, ...WithActions and ...WithStateStores:
	// each is ProviderServer with one of these.
	for name, ok := range map[string]bool{
		"list resources": implements[tfprotov6.ListResourceServer](w),
		"actions":        implements[tfprotov6.ActionServer](w),
		"state stores":   implements[tfprotov6.StateStoreServer](w),
	} {
		if !ok {
			t.Errorf("the timed server does not answer the calls of %s", name)
		}
	}

	ctx := context.Background()
	schema, err := w.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || schema.ResourceSchemas["experienceplatform_export_job"] == nil {
		t.Fatalf("GetProviderSchema through the timed server: %v, %v", schema, err)
	}
	if _, err := w.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: "experienceplatform_dataset"}); err != nil {
		t.Fatal(err)
	}
	got := l.summary().Calls
	if got["GetProviderSchema"] == nil || got["GetProviderSchema"].N != 1 {
		t.Errorf("GetProviderSchema not counted: %v", got)
	}
	if got["ValidateResourceConfig experienceplatform_dataset"] == nil {
		t.Errorf("ValidateResourceConfig not counted by resource type: %v", got)
	}
}

func implements[I any](v any) bool {
	_, ok := v.(I)
	return ok
}
