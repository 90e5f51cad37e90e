package exportengine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

// An export request is checked in two steps. parseExportRequest reads everything the request
// says by itself (schema, fields, times, segments), before any transaction: however long a
// hostile request takes to read, it holds no lock. resolve then checks, in the transaction that
// creates or starts the job, what the request names in the store (the destination dataset and
// the merge policy).

// exportSpec is a validated export request: everything a run needs, parsed.
type exportSpec struct {
	req           aepwire.ExportJobRequest // as echoed by the job
	policy        mergePolicyDef
	profileFields *fields.Selector
	eventFields   *fields.Selector
	withEvents    bool
	// Ingest-time bounds in epoch milliseconds; has* tells whether they are set.
	profileFrom              int64
	hasProfileFrom           bool
	eventFrom, eventTo       int64
	hasEventFrom, hasEventTo bool
	emptyProfiles            bool
	segments                 []segmentSpec
	qualStart, qualEnd       int64 // nanoseconds
	hasQualStart, hasQualEnd bool
	perBatch                 bool
}

type segmentSpec struct {
	id, ns   string
	statuses []string
}

// rfc3339Millis parses an RFC 3339 time of a request into epoch milliseconds, truncating.
func rfc3339Millis(field, s string) (int64, error) {
	ns, ok := aepwire.ParseTimestamp(s)
	if !ok {
		return 0, profileBadRequest("%s %q is not an RFC 3339 date-time with an offset, such as 2026-01-31T12:00:00Z", field, s)
	}
	return floorDiv(ns, 1e6), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// parseExportRequest checks what a request says by itself, as AEP would, with 400 errors that
// name the field at fault. It reads no store: resolve finishes the spec in a transaction.
func parseExportRequest(req aepwire.ExportJobRequest) (*exportSpec, error) {
	spec := &exportSpec{req: req}
	if req.Schema.Name == "" {
		return nil, profileBadRequest("schema.name is required: use %s", aepwire.ProfileSchemaName)
	}
	if req.Schema.Name != aepwire.ProfileSchemaName {
		return nil, profileBadRequest("schema.name %q is not supported: profile export jobs use %s", req.Schema.Name, aepwire.ProfileSchemaName)
	}
	if req.EvaluationInfo != nil && req.EvaluationInfo.Segmentation {
		return nil, profileBadRequest("evaluationInfo.segmentation is not supported by the embedded engine: " +
			"memberships are exported as ingested")
	}
	if req.Destination.DatasetID == "" {
		return nil, profileBadRequest("destination.datasetId is required")
	}
	if mp := req.MergePolicy; mp != nil && mp.Version != nil {
		if mp.ID == "" {
			return nil, profileBadRequest("mergePolicy.version is set without mergePolicy.id")
		}
		if *mp.Version < 1 {
			return nil, profileBadRequest("mergePolicy.version must be 1 or more, not %d", *mp.Version)
		}
	}

	var err error
	if spec.profileFields, err = parseFields("fields", req.Fields); err != nil {
		return nil, err
	}
	if f := req.Filter; f != nil {
		if f.FromIngestTimestamp != "" {
			if spec.profileFrom, err = rfc3339Millis("filter.fromIngestTimestamp", f.FromIngestTimestamp); err != nil {
				return nil, err
			}
			spec.hasProfileFrom = true
		}
		spec.emptyProfiles = f.EmptyProfiles
		for i, s := range f.Segments {
			at := fmt.Sprintf("filter.segments[%d]", i)
			if s.SegmentID == "" {
				return nil, profileBadRequest("%s.segmentId is required", at)
			}
			seg := segmentSpec{id: s.SegmentID, ns: s.SegmentNs, statuses: s.Status}
			if seg.ns == "" {
				seg.ns = "ups"
			}
			if len(seg.statuses) == 0 {
				seg.statuses = []string{aepwire.SegmentRealized, aepwire.SegmentExisting}
			}
			for _, st := range seg.statuses {
				if st != aepwire.SegmentRealized && st != aepwire.SegmentExisting && st != aepwire.SegmentExited {
					return nil, profileBadRequest("%s.status holds %q; statuses are realized, existing and exited", at, st)
				}
			}
			spec.segments = append(spec.segments, seg)
		}
		if q := f.SegmentQualificationTime; q != nil {
			if q.StartTime != "" {
				ns, ok := aepwire.ParseTimestamp(q.StartTime)
				if !ok {
					return nil, profileBadRequest("filter.segmentQualificationTime.startTime %q is not an RFC 3339 date-time with an offset", q.StartTime)
				}
				spec.qualStart, spec.hasQualStart = ns, true
			}
			if q.EndTime != "" {
				ns, ok := aepwire.ParseTimestamp(q.EndTime)
				if !ok {
					return nil, profileBadRequest("filter.segmentQualificationTime.endTime %q is not an RFC 3339 date-time with an offset", q.EndTime)
				}
				spec.qualEnd, spec.hasQualEnd = ns, true
			}
		}
	}
	spec.perBatch = req.Destination.SegmentPerBatch
	if spec.perBatch && len(spec.segments) == 0 {
		return nil, profileBadRequest("destination.segmentPerBatch is true but filter.segments is empty: " +
			"list the segments to export one batch each, or set segmentPerBatch to false")
	}
	if af := req.AdditionalFields; af != nil && af.EventList != nil {
		spec.withEvents = true
		el := af.EventList
		if spec.eventFields, err = parseFields("additionalFields.eventList.fields", el.Fields); err != nil {
			return nil, err
		}
		if ef := el.Filter; ef != nil {
			if ef.FromIngestTimestamp != "" {
				if spec.eventFrom, err = rfc3339Millis("additionalFields.eventList.filter.fromIngestTimestamp", ef.FromIngestTimestamp); err != nil {
					return nil, err
				}
				spec.hasEventFrom = true
			}
			if ef.ToIngestTimestamp != "" {
				if spec.eventTo, err = rfc3339Millis("additionalFields.eventList.filter.toIngestTimestamp", ef.ToIngestTimestamp); err != nil {
					return nil, err
				}
				spec.hasEventTo = true
			}
		}
	}
	return spec, nil
}

func parseFields(field, list string) (*fields.Selector, error) {
	sel, err := fields.Parse(list)
	if err != nil {
		return nil, profileBadRequest("%s %q is malformed at %s", field, list, err)
	}
	return sel, nil
}

// resolve checks what a parsed request names in the store, as of tx: the destination must be a
// profile union dataset, and the merge policy is the one named (at the version named, or its
// latest) or else the default. The spec then echoes the policy's version.
func (e *Engine) resolve(ctx context.Context, tx *sql.Tx, spec *exportSpec) error {
	req := spec.req
	dest := req.Destination.DatasetID
	ds, err := e.getDataset(ctx, tx, dest)
	if aepwire.IsNotFound(err) {
		return profileBadRequest("destination.datasetId %s names no dataset", dest)
	}
	if err != nil {
		return err
	}
	if ds.SchemaRef.ID != aepwire.SchemaProfileUnion {
		return profileBadRequest("destination dataset %s (%q) uses the schema %s; an export destination must use the profile union schema %s",
			ds.ID, ds.Name, ds.SchemaRef.ID, aepwire.SchemaProfileUnion)
	}

	var policy *aepwire.MergePolicy
	if req.MergePolicy == nil || req.MergePolicy.ID == "" {
		policy, err = e.defaultMergePolicy(ctx, tx)
	} else {
		var version int64
		if req.MergePolicy.Version != nil {
			version = *req.MergePolicy.Version
		}
		policy, err = e.getMergePolicy(ctx, tx, req.MergePolicy.ID, version)
		if aepwire.IsNotFound(err) {
			var we *aepwire.Error
			errors.As(err, &we)
			return profileBadRequest("mergePolicy: %s", we.Detail)
		}
	}
	if err != nil {
		return err
	}
	spec.policy = definition(policy)
	version := policy.Version
	spec.req.MergePolicy = &aepwire.MergePolicyRef{ID: policy.ID, Version: &version}
	return nil
}
