// Package aepwire defines the JSON shapes of the Adobe Experience Platform REST API that this
// provider speaks: Catalog datasets and batches, merge policies, export jobs, Data Access files
// and error bodies. They are defined once here and used by the embedded engine, the HTTP server
// that exposes it and the remote client, so the three cannot drift apart.
package aepwire
