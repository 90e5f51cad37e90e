// Package exportengine is a local implementation of the parts of Adobe Experience Platform that
// profile exports involve: Catalog datasets and batches, batch ingestion, the profile store, merge
// policies and the export-jobs endpoint. It is a library with no global state: everything it
// needs is passed to Open (the data directory, the clock, hooks), and several engines, in one
// process or in several, may share a data directory.
//
// # The life of an export job
//
// A job's state is a jobs.State; the store and the API spell it as aepwire does (NEW,
// PROCESSING, ...). Every move is a row of the transition table in package jobs, and every move
// is made by the engine's one transition (exportjobs.go), which checks it against the table.
//
//	                 CreateExportJob (API)
//	                         |
//	                         v
//	   cancel (API)  +---------------+  claim: the request's destination or
//	  +--------------|      NEW      |  merge policy is gone (runner)
//	  |              +---------------+--------------------------------+
//	  |                      | claim (runner): attempt 1               |
//	  |                      v                                         |
//	  |              +---------------+  runner died, lock free: claim  |
//	  |              |  PROCESSING   |<--+ again (rescuer): attempt n+1|
//	  |              |               |---+ with a warning            |
//	  |              +---------------+                                 |
//	  |   cancelled: the     |     |   \  export failed (runner), or   |
//	  |   runner sees it,    |     |    \ interrupted MaxAttempts      |
//	  |   or the API ends a  |     |     \ times (rescuer)             |
//	  |   job with no runner |     |      v                            v
//	  v                      |     |     +-----------------------------------+
//	+-----------+            |     |     |              FAILED               |
//	| CANCELLED |<-----------+     |     +-----------------------------------+
//	+-----------+                  | output committed in the same transaction (runner)
//	                               v
//	                         +-----------+
//	                         | SUCCEEDED |
//	                         +-----------+
//
// Who moves a job:
//   - The API (CreateExportJob, CancelExportJob) creates a job NEW, cancels a NEW job at once, and
//     records a cancellation of a PROCESSING one; the runner holding it stops at its next check,
//     and a PROCESSING job that no runner holds is ended CANCELLED by the cancel itself.
//   - The runner (jobs.Runner, in an engine opened with RunJobs: a worker process, the server, a
//     test) claims NEW jobs under the job's lock file, runs the export, and ends the job: the
//     export's commit makes it SUCCEEDED in the transaction that makes its batches visible; a
//     failure makes it FAILED; a cancellation CANCELLED. A runner that stops (its engine closes)
//     leaves its jobs PROCESSING, their output discarded, for the next runner.
//   - The rescuer is a runner that finds a PROCESSING job whose lock nobody holds (its runner
//     died): it claims it again, or fails it once it has been interrupted jobs.MaxAttempts times.
//
// CreateExportJob answers with the job as its transaction left it (NEW), whatever the runner does
// next; WaitExportJob waits on the job's lock while a runner holds it, and on this engine's own
// changes, and polls, on the engine's clock, for what other processes do.
//
// # Sandboxes
//
// Every dataset, batch, merge policy and export job belongs to one sandbox (sandboxes.go), and a
// call never sees or changes another sandbox's objects: they read as not found. A call works in
// the sandbox its context names (aepwire.WithSandbox; the server names the request's
// x-sandbox-name there), or else in the engine's own, Options.Sandbox. An export reads only its
// job's sandbox's batches, whichever runner runs it. Ids are unique across sandboxes, so the
// files under batches/ need no sandbox of their own. A data directory written before sandboxes
// belongs to the sandbox of the first engine that opens it.
//
// # Packages
//
//	exportengine          the front door: Engine and its API (datasets, batches, ingestion,
//	                      merge policies, export jobs), the export pipeline (snapshot, stitch,
//	                      export), request parsing, the job table (jobstore.go), worker processes
//	exportengine/jobs     job states, the transition table, the runner and the lock protocol;
//	                      it reaches the job table through jobs.Store, and runs a job with the
//	                      export function it is given
//	exportengine/store    the SQLite database: opening, transactions, migrations, list-and-scan
//	exportengine/record   what the profile store keeps of a record, its validation, instants
//	exportengine/segment  the profile store's file format: one segment a batch, written once,
//	                      checked as it is read
//	exportengine/graph    the private identity graph: records' identities in, each record's
//	                      component out, ranked; built out of core; kept for the next export
//	exportengine/extsort  external sorting of key-value pairs in runs of bounded memory
//	exportengine/merge    the merger: a profile's fragments with their ranks in, the profile out
//	exportengine/filelock advisory file locks that die with their holder
//
// Dependencies point down the list: the front door uses every package; jobs and store use
// filelock; segment and merge use record; graph uses extsort; extsort and filelock use nothing of
// the engine. An export reads a store snapshot (the committed batches' segments), groups records
// into profiles (by primary identity, or through graph and an external sort of the records'
// places under the private identity graph, so that its memory does not grow with the store's
// records), and workers merge, filter, project and encode them in parallel.
//
// An export through the identity graph keeps what it made of it (each component's records'
// places, in rank order) in graphs/<sandbox>.graph, named by the store's batches (stitch.go):
// later exports of the same store read it instead of building the graph again, and the first
// export after a batch is ingested or deleted builds and keeps a new one. The file is a cache:
// written whole or not at all, checked before it is read, and replaced when it is not whole.
// Beside it, graphs/<sandbox>.events holds the bodies of the events of its profiles, in the
// graph's order (keptevents.go), kept by the second export of the store, the first to read the
// graph kept: a later export reads a chunk's events in a read or two instead of one read a
// person's identity, and checks each body, reading from its batch any that fails.
// Deleting a batch of the store removes both. The bodies are kept only where the file system has
// room for three times their size. Exports of one store take turns to look for both: one that
// finds another building the graph, or keeping its bodies, waits for it and reads what it kept,
// lending its job's slot meanwhile to a job that can run (jobs.Progress.Wait).
//
// The event bodies are kept on a goroutine of their own, behind the writer of the rows, so that
// writing the copy overlaps writing the rows.
package exportengine
