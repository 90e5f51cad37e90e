package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/provcalls"
)

// callLog times the calls of one process. A nil callLog times nothing.
type callLog struct {
	path string
	now  func() time.Time

	mu        sync.Mutex
	started   time.Time
	inFlight  int
	busySince time.Time
	busy      time.Duration
	calls     map[string]*provcalls.Stat
}

// newCallLog returns the log provcalls.Env asks for, or nil without it. What a Terraform command
// adds to the engine's work is the provider's starts, the provider's calls and Terraform's own
// work around them; `make bench` tells them apart with the lines it writes.
func newCallLog(path string, now func() time.Time) *callLog {
	if path == "" {
		return nil
	}
	return &callLog{path: path, now: now, started: now(), calls: map[string]*provcalls.Stat{}}
}

// begin marks the start of a call and returns what marks its end.
func (l *callLog) begin(name string) (end func()) {
	l.mu.Lock()
	start := l.now()
	if l.inFlight == 0 {
		l.busySince = start
	}
	l.inFlight++
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		done := l.now()
		l.inFlight--
		if l.inFlight == 0 {
			l.busy += done.Sub(l.busySince)
		}
		s := l.calls[name]
		if s == nil {
			s = &provcalls.Stat{}
			l.calls[name] = s
		}
		s.N++
		s.Ms += ms(done.Sub(start))
	}
}

// summary is the process's line so far, a copy: a call may still end after it (Terraform's stop
// does not wait for the calls in progress). A call in progress counts its time so far.
func (l *callLog) summary() provcalls.Process {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	busy := l.busy
	if l.inFlight > 0 {
		busy += now.Sub(l.busySince)
	}
	calls := make(map[string]*provcalls.Stat, len(l.calls))
	for name, s := range l.calls {
		c := *s
		calls[name] = &c
	}
	return provcalls.Process{PID: os.Getpid(), LivedMs: ms(now.Sub(l.started)), BusyMs: ms(busy), Calls: calls}
}

// write appends the process's line to the file. A line that cannot be written loses only itself.
func (l *callLog) write() {
	if l == nil {
		return
	}
	line, err := json.Marshal(l.summary())
	if err != nil {
		fmt.Fprintln(os.Stderr, "provider calls:", err)
		return
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "provider calls:", err)
		return
	}
	// One write of one line: the processes of a command append to the same file.
	if _, err := f.Write(append(line, '\n')); err != nil {
		fmt.Fprintln(os.Stderr, "provider calls:", err)
	}
	_ = f.Close()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fullServer is every call the framework's server answers; tf6server looks for the optional
// ones by type (lists, actions, state stores, until terraform-plugin-go moves them into
// ProviderServer), so the timed server must keep them all.
type fullServer interface {
	tfprotov6.ProviderServer
	tfprotov6.ListResourceServer
	tfprotov6.ActionServer
	tfprotov6.StateStoreServer
}

// wrap times s's calls; without a log, or if s lacks calls the timed server would have to
// answer, it returns s as it is.
func (l *callLog) wrap(s tfprotov6.ProviderServer) tfprotov6.ProviderServer {
	full, ok := s.(fullServer)
	if l == nil || !ok {
		return s
	}
	return timedServer{fullServer: full, log: l}
}

// timedServer is the framework's server with its calls timed. The calls a Terraform command
// makes of this provider are timed; the rest (functions, moves, identity upgrades, actions,
// lists, state stores, ephemeral resources) pass through untimed.
type timedServer struct {
	fullServer
	log *callLog
}

// timed runs one call of s.
func timed[Req, Resp any](l *callLog, name string, call func(context.Context, Req) (Resp, error), ctx context.Context, req Req) (Resp, error) {
	defer l.begin(name)()
	return call(ctx, req)
}

func (s timedServer) GetMetadata(ctx context.Context, req *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	return timed(s.log, "GetMetadata", s.fullServer.GetMetadata, ctx, req)
}

func (s timedServer) GetProviderSchema(ctx context.Context, req *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	return timed(s.log, "GetProviderSchema", s.fullServer.GetProviderSchema, ctx, req)
}

func (s timedServer) GetResourceIdentitySchemas(ctx context.Context, req *tfprotov6.GetResourceIdentitySchemasRequest) (*tfprotov6.GetResourceIdentitySchemasResponse, error) {
	return timed(s.log, "GetResourceIdentitySchemas", s.fullServer.GetResourceIdentitySchemas, ctx, req)
}

func (s timedServer) ValidateProviderConfig(ctx context.Context, req *tfprotov6.ValidateProviderConfigRequest) (*tfprotov6.ValidateProviderConfigResponse, error) {
	return timed(s.log, "ValidateProviderConfig", s.fullServer.ValidateProviderConfig, ctx, req)
}

func (s timedServer) ConfigureProvider(ctx context.Context, req *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	return timed(s.log, "ConfigureProvider", s.fullServer.ConfigureProvider, ctx, req)
}

func (s timedServer) StopProvider(ctx context.Context, req *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	return timed(s.log, "StopProvider", s.fullServer.StopProvider, ctx, req)
}

func (s timedServer) ValidateResourceConfig(ctx context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	return timed(s.log, "ValidateResourceConfig "+req.TypeName, s.fullServer.ValidateResourceConfig, ctx, req)
}

func (s timedServer) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	return timed(s.log, "UpgradeResourceState "+req.TypeName, s.fullServer.UpgradeResourceState, ctx, req)
}

func (s timedServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	return timed(s.log, "ReadResource "+req.TypeName, s.fullServer.ReadResource, ctx, req)
}

func (s timedServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	return timed(s.log, "PlanResourceChange "+req.TypeName, s.fullServer.PlanResourceChange, ctx, req)
}

func (s timedServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	return timed(s.log, "ApplyResourceChange "+req.TypeName, s.fullServer.ApplyResourceChange, ctx, req)
}

func (s timedServer) ImportResourceState(ctx context.Context, req *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	return timed(s.log, "ImportResourceState "+req.TypeName, s.fullServer.ImportResourceState, ctx, req)
}

func (s timedServer) ValidateDataResourceConfig(ctx context.Context, req *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	return timed(s.log, "ValidateDataResourceConfig "+req.TypeName, s.fullServer.ValidateDataResourceConfig, ctx, req)
}

func (s timedServer) ReadDataSource(ctx context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	return timed(s.log, "ReadDataSource "+req.TypeName, s.fullServer.ReadDataSource, ctx, req)
}
