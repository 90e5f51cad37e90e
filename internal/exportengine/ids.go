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

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
