package exportengine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
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
	// The request's times, each with whether it is set.
	profileFrom, eventFrom, eventTo optionalInstant
	qualStart, qualEnd              optionalInstant
	emptyProfiles                   bool
	segments                        []segmentSpec
	perBatch                        bool
}

type segmentSpec struct {
	id, ns   string
	statuses []string
}

type optionalInstant struct {
	record.Instant
	set bool
}

// parseRequestTime parses a time of a request, naming the field when it is not RFC 3339.
func parseRequestTime(field, s string) (optionalInstant, error) {
	if s == "" {
		return optionalInstant{}, nil
	}
	if err := checkRequestLength(field, s, aepwire.MaxRequestTimeLen); err != nil {
		return optionalInstant{}, err
	}
	t, ok := record.ParseInstant(s)
	if !ok {
		return optionalInstant{}, profileBadRequest("%s %s is not an RFC 3339 date-time with an offset, such as 2026-01-31T12:00:00Z",
			field, aepwire.QuoteShort(s))
	}
	return optionalInstant{Instant: t, set: true}, nil
}

// keepsProfile reports whether a profile last updated at the ingest time updatedMs (epoch
// milliseconds) passes filter.fromIngestTimestamp: strictly after it.
func (spec *exportSpec) keepsProfile(updatedMs int64) bool {
	return !spec.profileFrom.set || record.MillisInstant(updatedMs).Compare(spec.profileFrom.Instant) > 0
}

// keepsEvent reports whether an event of a batch ingested at ingestMs lies strictly between
// eventList's fromIngestTimestamp and toIngestTimestamp.
func (spec *exportSpec) keepsEvent(ingestMs int64) bool {
	t := record.MillisInstant(ingestMs)
	return (!spec.eventFrom.set || t.Compare(spec.eventFrom.Instant) > 0) && (!spec.eventTo.set || t.Compare(spec.eventTo.Instant) < 0)
}

// inQualificationWindow reports whether a membership's lastQualificationTime lies within
// filter.segmentQualificationTime, bounds included.
func (spec *exportSpec) inQualificationWindow(t record.Instant) bool {
	return (!spec.qualStart.set || t.Compare(spec.qualStart.Instant) >= 0) && (!spec.qualEnd.set || t.Compare(spec.qualEnd.Instant) <= 0)
}

// parseExportRequest checks what a request says by itself, as AEP would, with 400 errors that
// name the field at fault. It reads no store: resolve finishes the spec in a transaction.
func parseExportRequest(req aepwire.ExportJobRequest) (*exportSpec, error) {
	spec := &exportSpec{req: req}
	if req.Schema.Name == "" {
		return nil, profileBadRequest("schema.name is required: use %s", aepwire.ProfileSchemaName)
	}
	if req.Schema.Name != aepwire.ProfileSchemaName {
		return nil, profileBadRequest("schema.name %s is not supported: profile export jobs use %s", aepwire.QuoteShort(req.Schema.Name),
			aepwire.ProfileSchemaName)
	}
	if req.EvaluationInfo != nil && req.EvaluationInfo.Segmentation {
		return nil, profileBadRequest("evaluationInfo.segmentation is not supported by the embedded engine: " +
			"memberships are exported as ingested")
	}
	if req.Destination.DatasetID == "" {
		return nil, profileBadRequest("destination.datasetId is required")
	}
	if err := checkRequestLength("destination.datasetId", req.Destination.DatasetID, aepwire.MaxIdentifierLen); err != nil {
		return nil, err
	}
	if mp := req.MergePolicy; mp != nil {
		if err := checkRequestLength("mergePolicy.id", mp.ID, aepwire.MaxIdentifierLen); err != nil {
			return nil, err
		}
		if mp.Version != nil && mp.ID == "" {
			return nil, profileBadRequest("mergePolicy.version is set without mergePolicy.id")
		}
		if mp.Version != nil && *mp.Version < 1 {
			return nil, profileBadRequest("mergePolicy.version must be 1 or more, not %d", *mp.Version)
		}
	}

	var err error
	if spec.profileFields, err = parseFields("fields", req.Fields); err != nil {
		return nil, err
	}
	if f := req.Filter; f != nil {
		if spec.profileFrom, err = parseRequestTime("filter.fromIngestTimestamp", f.FromIngestTimestamp); err != nil {
			return nil, err
		}
		spec.emptyProfiles = f.EmptyProfiles
		if len(f.Segments) > aepwire.MaxExportSegments {
			return nil, profileBadRequest("filter.segments names %d segments, more than the %d an export job takes; "+
				"export them in several jobs", len(f.Segments), aepwire.MaxExportSegments)
		}
		named := map[[2]string]int{}
		for i, s := range f.Segments {
			at := fmt.Sprintf("filter.segments[%d]", i)
			if s.SegmentID == "" {
				return nil, profileBadRequest("%s.segmentId is required", at)
			}
			if err := checkRequestLength(at+".segmentId", s.SegmentID, aepwire.MaxIdentifierLen); err != nil {
				return nil, err
			}
			if err := checkRequestLength(at+".segmentNs", s.SegmentNs, aepwire.MaxIdentifierLen); err != nil {
				return nil, err
			}
			seg := segmentSpec{id: s.SegmentID, ns: s.SegmentNs, statuses: s.Status}
			if seg.ns == "" {
				seg.ns = "ups"
			}
			if j, ok := named[[2]string{seg.ns, seg.id}]; ok {
				return nil, profileBadRequest("%s names segment %q of namespace %q, as filter.segments[%d] does; "+
					"name each segment once, with all the statuses it is exported for", at, seg.id, seg.ns, j)
			}
			named[[2]string{seg.ns, seg.id}] = i
			if len(seg.statuses) == 0 {
				seg.statuses = []string{aepwire.SegmentRealized, aepwire.SegmentExisting}
			}
			for k, st := range seg.statuses {
				if st != aepwire.SegmentRealized && st != aepwire.SegmentExisting && st != aepwire.SegmentExited {
					return nil, profileBadRequest("%s.status holds %s; statuses are realized, existing and exited", at, aepwire.QuoteShort(st))
				}
				if slices.Contains(seg.statuses[:k], st) {
					return nil, profileBadRequest("%s.status holds %q twice; name each status once", at, st)
				}
			}
			spec.segments = append(spec.segments, seg)
		}
		if q := f.SegmentQualificationTime; q != nil {
			if spec.qualStart, err = parseRequestTime("filter.segmentQualificationTime.startTime", q.StartTime); err != nil {
				return nil, err
			}
			if spec.qualEnd, err = parseRequestTime("filter.segmentQualificationTime.endTime", q.EndTime); err != nil {
				return nil, err
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
			if spec.eventFrom, err = parseRequestTime("additionalFields.eventList.filter.fromIngestTimestamp", ef.FromIngestTimestamp); err != nil {
				return nil, err
			}
			if spec.eventTo, err = parseRequestTime("additionalFields.eventList.filter.toIngestTimestamp", ef.ToIngestTimestamp); err != nil {
				return nil, err
			}
		}
	}
	return spec, nil
}

// checkRequestLength refuses a value of a request longer than limit characters, naming its field.
func checkRequestLength(field, value string, limit int) error {
	return aepwire.CheckLength(codeProfileBadRequest, field, value, limit)
}

func parseFields(field, list string) (*fields.Selector, error) {
	sel, err := fields.Parse(list)
	if err != nil {
		return nil, profileBadRequest("%s %s is malformed at %s", field, aepwire.QuoteShort(list), err)
	}
	return sel, nil
}

// resolve checks what a parsed request names in sandbox sb of the store, as of tx: the destination must be a
// profile union dataset, and the merge policy is the one named (at the version named, or its
// latest) or else the default. The spec then echoes the policy's version.
func (e *Engine) resolve(ctx context.Context, tx *sql.Tx, sb string, spec *exportSpec) error {
	req := spec.req
	dest := req.Destination.DatasetID
	ds, err := e.getDataset(ctx, tx, sb, dest)
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
		policy, err = e.defaultMergePolicy(ctx, tx, sb)
	} else {
		var version int64
		if req.MergePolicy.Version != nil {
			version = *req.MergePolicy.Version
		}
		policy, err = e.getMergePolicy(ctx, tx, sb, req.MergePolicy.ID, version)
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
