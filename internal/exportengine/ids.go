package exportengine

import (
	"crypto/rand"
	"encoding/hex"
)

// randomHex returns n random bytes as 2n lowercase hex characters: the form of AEP's Catalog ids
// (24 characters for datasets, 32 for batches).
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics instead).
	return hex.EncodeToString(b)
}

func newDatasetID() string { return randomHex(12) }
