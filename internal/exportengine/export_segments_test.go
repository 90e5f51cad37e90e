package exportengine

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// A job of a batch per segment writes a profile's row to the batch of every segment the profile
// qualifies for. Its chunks hold as many times fewer profiles as it has batches (chunkLimits),
// so that the rows a chunk in flight holds stay about what one batch's would: a job of 100
// segments over profiles in all of them held 900 MiB of rows where one batch's held 16.
func TestBatchPerSegmentChunksShareTheirLimits(t *testing.T) {
	const segments, people = aepwire.MaxExportSegments, 300
	var chunks atomic.Int64
	env := newJobEnv(t, Options{RunJobs: true, Hooks: Hooks{BeforeExportChunk: func(context.Context, int) { chunks.Add(1) }}})
	var membership, filter []string
	for s := range segments {
		membership = append(membership, fmt.Sprintf(`"s%03d":{"status":"realized"}`, s))
		filter = append(filter, fmt.Sprintf("s%03d", s))
	}
	lines := make([]string, people)
	for p := range lines {
		lines[p] = fmt.Sprintf(`{"identityMap":{"Email":[{"id":"p%03d@example.com","primary":true}]},"segmentMembership":{"ups":{%s}}}`,
			p, strings.Join(membership, ","))
	}
	ingestLines(t, env.e, env.crm, lines...)

	req := env.request()
	req.Fields = "identityMap"
	req.Destination.SegmentPerBatch = true
	req.Filter = &aepwire.ExportFilter{}
	for _, id := range filter {
		req.Filter.Segments = append(req.Filter.Segments, aepwire.SegmentFilter{SegmentID: id})
	}
	ctx := context.Background()
	j, err := env.e.CreateExportJob(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	done, err := env.e.WaitExportJob(ctx, j.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != aepwire.JobSucceeded || len(done.Destination.Batches) != segments {
		t.Fatalf("the job ended %s with %d batches (errors %+v), want SUCCEEDED with %d", done.Status, len(done.Destination.Batches), done.Errors, segments)
	}
	for _, b := range done.Destination.Batches {
		if rows := exportedRows(t, env.e, b.BatchID); len(rows) != people {
			t.Fatalf("segment %s's batch has %d rows, want every one of the %d people", b.SegmentID, len(rows), people)
		}
	}
	maxProfiles, _ := chunkLimits(segments)
	if want := int64((people + maxProfiles - 1) / maxProfiles); chunks.Load() < want {
		t.Errorf("the job's %d profiles came in %d chunks, want at least %d: no more than %d profiles a chunk, for %d batches",
			people, chunks.Load(), want, maxProfiles, segments)
	}
}
